"""The persistent outbox's delivery: webhooks (events signed with HMAC-SHA256) and, through the
same loop, LTI scores (runner/lti/ags.py), with exponential back-off. Delivery runs in its own
task, never on a learner's check path."""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

import anyio

from runner.identity.platforms import Platforms
from runner.store import (
    AccountStore,
    EventType,
    OutboxCounts,
    OutboxEvent,
    OutboxStore,
    StoreError,
)

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Decode-Signature"
EVENT_ID_HEADER = "Decode-Event-Id"
EVENT_TYPE_HEADER = "Decode-Event-Type"
BATCH = 50
IDLE_POLL_S = 5.0
MAINTENANCE_S = 600.0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance_s: int = 300) -> bool:
    """What a receiver does (and the docs show): recompute, compare in constant time, and
    refuse a timestamp outside ``tolerance_s`` (a replayed delivery)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout_s: float = 10.0
    first_retry_s: float = 10.0
    max_retry_s: float = 3600.0
    abandon_after: timedelta = timedelta(days=3)
    keep_finished: timedelta = timedelta(days=7)

    @property
    def lease(self) -> timedelta:
        """How long a claimed event is another node's: an attempt (a token request, then the
        delivery) ends well before, and a node that died holding it frees it after."""
        return timedelta(seconds=max(60.0, 4 * self.timeout_s))

    def retry_delay(self, attempts: int) -> float:
        """Exponential back-off with full jitter on the upper half: 10 s, 20 s, 40 s … 1 h."""
        base = min(self.max_retry_s, self.first_retry_s * 2.0 ** max(0, attempts - 1))
        return float(base / 2 + random.random() * base / 2)


# (url, body, headers, timeout) -> HTTP status; raises OSError/TimeoutError on no answer.
Post = Callable[[str, bytes, dict[str, str], float], Awaitable[int]]


class Verdict(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"  # with back-off, until the policy abandons it
    ABANDON = "abandon"  # the receiver will never accept it


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    error: str = ""


DELIVERED = Outcome(Verdict.DELIVERED)
# One delivery attempt of one outbox event.
Deliver = Callable[[OutboxEvent], Awaitable[Outcome]]
# Periodic clean-up: returns how many rows it deleted.
Maintenance = Callable[[], Awaitable[int]]


class Webhooks:
    """Delivers ``progress.changed`` and ``exercise.solved`` to a platform's webhook URL."""

    TYPES = (EventType.PROGRESS_CHANGED, EventType.EXERCISE_SOLVED)

    def __init__(self, platforms: Platforms, post: Post, timeout_s: float) -> None:
        self.platforms = platforms
        self.post = post
        self.timeout_s = timeout_s

    async def deliver(self, event: OutboxEvent) -> Outcome:
        platform = self.platforms.get(event.platform)
        if platform is None or not platform.webhook_url:
            return Outcome(Verdict.RETRY, "no webhook configured for this platform")
        body = event.body.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "decode-runner-webhooks/1",
            EVENT_ID_HEADER: event.id,
            EVENT_TYPE_HEADER: event.type,
            SIGNATURE_HEADER: sign(platform.webhook_secret, int(_now().timestamp()), body),
        }
        try:
            status = await self.post(platform.webhook_url, body, headers, self.timeout_s)
        except (OSError, TimeoutError) as exc:
            return Outcome(Verdict.RETRY, f"no answer: {type(exc).__name__}: {exc}"[:200])
        if 200 <= status < 300:
            return DELIVERED
        return Outcome(Verdict.RETRY, f"HTTP {status}")


class Dispatcher:
    """Delivers due outbox events, each by the deliverer of its type (webhooks, LTI scores);
    ``wake`` after a commit makes new events go out at once. Every node of a cluster runs one:
    each claims its batch (``OutboxStore.claim``), so no event is delivered by two at once."""

    def __init__(
        self,
        outbox: OutboxStore,
        accounts: AccountStore,
        policy: DeliveryPolicy,
        deliverers: Mapping[str, Deliver],
        maintenance: tuple[Maintenance, ...] = (),
    ) -> None:
        self.outbox = outbox
        self.accounts = accounts
        self.policy = policy
        self.deliverers = deliverers
        self.maintenance = maintenance
        self.delivered = 0
        self.failures = 0
        self.abandoned = 0
        self.counts = OutboxCounts(pending=0, abandoned=0)  # as of the last loop
        self._wake = anyio.Event()
        self._last_maintenance = float("-inf")

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        """The delivery loop (cancelled at shutdown; the outbox keeps what is not delivered)."""
        while True:
            try:
                await self.deliver_due()
                await self._maintain()
                self.counts = await self.outbox.counts()
                delay = await self._until_next()
            except StoreError as exc:
                logger.warning("outbox unavailable: %s", exc)
                delay = IDLE_POLL_S
            except Exception:  # the loop must outlive any one fault; the outbox keeps the events
                logger.exception("outbox delivery loop failed; retrying")
                delay = IDLE_POLL_S
            with anyio.move_on_after(delay):
                await self._wake.wait()
            self._wake = anyio.Event()

    async def deliver_due(self) -> int:
        events = await self.outbox.claim(_now(), BATCH, self.policy.lease)
        async with anyio.create_task_group() as tasks:
            for event in events:
                tasks.start_soon(self._deliver, event)
        return len(events)

    async def _deliver(self, event: OutboxEvent) -> None:
        """One attempt; its outcome is written back (a store fault leaves the event due)."""
        deliver = self.deliverers.get(event.type)
        try:
            if deliver is None:
                outcome = Outcome(Verdict.RETRY, f"no deliverer for {event.type!r}")
            else:
                try:
                    outcome = await deliver(event)
                except (OSError, TimeoutError) as exc:
                    outcome = Outcome(Verdict.RETRY, f"{type(exc).__name__}: {exc}"[:200])
            if outcome.verdict is Verdict.DELIVERED:
                self.delivered += 1
                await self.outbox.delivered(event.id, _now())
            else:
                await self._fail(event, outcome)
        except StoreError as exc:
            logger.warning("outbox event %s: outcome not recorded: %s", event.id, exc)

    async def _fail(self, event: OutboxEvent, outcome: Outcome) -> None:
        now, error = _now(), outcome.error
        self.failures += 1
        too_old = now - event.created_at >= self.policy.abandon_after
        if outcome.verdict is Verdict.ABANDON or too_old:
            self.abandoned += 1
            logger.error(
                "%s %s (%s, platform %s) ABANDONED after %d attempts: %s",
                _label(event),
                event.id,
                event.type,
                event.platform,
                event.attempts + 1,
                error,
            )
            await self.outbox.abandoned(event.id, now, error)
            return
        delay = self.policy.retry_delay(event.attempts + 1)
        logger.info(
            "%s %s not delivered (%s); retry in %.1f s", _label(event), event.id, error, delay
        )
        await self.outbox.failed(event.id, now + timedelta(seconds=delay), error)

    async def _until_next(self) -> float:
        due = await self.outbox.next_due()
        if due is None:
            return IDLE_POLL_S
        return min(IDLE_POLL_S, max(0.0, (due - _now()).total_seconds()))

    async def _maintain(self) -> None:
        """Now and then: forget expired sessions and token ids, and old finished events."""
        clock = anyio.current_time()
        if clock - self._last_maintenance < MAINTENANCE_S:
            return
        self._last_maintenance = clock
        purged = await self.accounts.purge_expired()
        for extra in self.maintenance:
            purged += await extra()
        old = await self.outbox.purge(self.policy.keep_finished, _now())
        if purged or old:
            logger.info("purged %d expired session(s)/token id(s), %d old event(s)", purged, old)


def _label(event: OutboxEvent) -> str:
    """What the log calls an event (operators grep for these words)."""
    return "LTI score" if event.type == EventType.LTI_SCORE else "webhook event"


def _now() -> datetime:
    return datetime.now(UTC)
