"""Runtime: what the server composes (catalog, sandbox, store, platforms, capacity), started in
the lifespan. Its collaborators are built by ``runner.web.app.build_runtime`` and passed in."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio

from runner.exercises import Catalog, load_catalog
from runner.identity.keys import KeyResolver
from runner.identity.platforms import Platforms
from runner.identity.webhooks import Dispatcher
from runner.lti.tool import LtiTool
from runner.sandbox import Sandbox
from runner.settings import Settings
from runner.store import AccountStore, ProgressStore
from runner.web.capacity import Capacity, ConnectionCounter, RateLimiter
from runner.web.learners import LearnerIds
from runner.web.metrics import Gauges, Metrics

if TYPE_CHECKING:
    from runner.web.jobs import Job

logger = logging.getLogger(__name__)

LEARNER_ID_KEY = "learner-ids"
HEALTH_TIMEOUT_S = 5.0
DATABASE_PING_S = 1.0
STOP_WAIT_S = 3.0
_POLL_S = 0.05


class Runtime:
    """The server's state. The constructor only stores; ``start``/``close`` run in the lifespan."""

    def __init__(
        self,
        settings: Settings,
        sandbox: Sandbox,
        store: ProgressStore,
        accounts: AccountStore,
        platforms: Platforms,
        keys: KeyResolver,
        dispatcher: Dispatcher,
        lti: LtiTool,
    ) -> None:
        self.settings = settings
        self.sandbox = sandbox
        self.store = store
        self.accounts = accounts
        self.platforms = platforms
        self.keys = keys
        self.dispatcher = dispatcher
        self.lti = lti
        self.capacity = Capacity(settings.max_concurrent, settings.queue_size)
        self.rate_limiter = RateLimiter(settings.rate_per_minute)
        self.ip_rate_limiter = RateLimiter(settings.ip_rate_per_minute)
        self.ip_new_learners = RateLimiter(settings.ip_new_learners_per_minute)
        self.ip_connections = ConnectionCounter(settings.ip_max_connections)
        self.metrics = Metrics(settings.node_id)
        self.catalog: Catalog | None = None
        self.jobs: set[Job] = set()
        self.connections = 0
        self.draining = False
        self._learner_ids: LearnerIds | None = None

    @property
    def learner_ids(self) -> LearnerIds:
        if self._learner_ids is None:
            raise RuntimeError("the runtime is not started")
        return self._learner_ids

    async def start(self) -> None:
        catalog = await anyio.to_thread.run_sync(load_catalog, self.settings.exercises_dir)
        for error in catalog.errors:
            logger.error("BROKEN EXERCISE SPEC, not served: %s", error)
        logger.warning(
            "serving %d exercise(s) from %s; %d broken spec problem(s)",
            len(catalog.exercises),
            self.settings.exercises_dir,
            len(catalog.errors),
        )
        self.catalog = catalog
        await self.store.open()
        self._learner_ids = LearnerIds(await self.store.secret(LEARNER_ID_KEY))
        await self.sandbox.start()

    async def close(self) -> None:
        """Stop what still runs, then remove every container and close the database.

        ``sandbox.close`` leaves the task group ``sandbox.start`` entered: it must run in the
        scope ``start`` ran in, so it is not wrapped in a scope of its own here."""
        with anyio.CancelScope(shield=True):
            await self.stop_all()
        await self.sandbox.close()
        with anyio.CancelScope(shield=True):
            await self.store.close()

    async def drain(self, grace_s: float | None = None) -> None:
        """Refuse new submissions; let running ones finish for ``grace_s``; then stop them."""
        self.draining = True
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        logger.warning("draining: %d submission(s) in flight, grace %.1f s", len(self.jobs), grace)
        with anyio.move_on_after(grace):
            await self._wait_idle()
        await self.stop_all()

    async def stop_all(self) -> None:
        if not self.jobs:
            return
        logger.warning("stopping %d submission(s)", len(self.jobs))
        for job in list(self.jobs):
            await job.stop(by_server=True)
        with anyio.move_on_after(STOP_WAIT_S):
            await self._wait_idle()

    async def _wait_idle(self) -> None:
        while self.jobs:
            await anyio.sleep(_POLL_S)

    def require_catalog(self) -> Catalog:
        if self.catalog is None:
            raise RuntimeError("the runtime is not started")
        return self.catalog

    async def health(self) -> dict[str, Any]:
        """The healthz body; ``failing`` lists the broken parts (empty when all is well)."""
        try:
            with anyio.fail_after(HEALTH_TIMEOUT_S):
                sandbox = await self.sandbox.health()
        except (TimeoutError, OSError) as exc:
            sandbox = {"engine": False, "images": {}, "detail": f"health check failed: {exc!r}"}
        database, slow = True, False
        try:
            with anyio.fail_after(DATABASE_PING_S):
                database = await self.store.ping()
        except TimeoutError:
            slow = True  # a lock held elsewhere: submissions still run, progress may lag
        images: dict[str, bool] = dict(sandbox.get("images", {}))
        failing = [
            part
            for part, ok in (
                ("engine", bool(sandbox.get("engine"))),
                ("images", bool(images) and all(images.values())),
                ("database", database),
            )
            if not ok
        ]
        degraded = ["database"] if slow else []
        if self.draining:  # a load balancer sends no new client here (HAProxy: deploy/)
            status = "draining"
        else:
            status = "unavailable" if failing else "degraded" if degraded else "ok"
        return {
            "status": status,
            "draining": self.draining,
            "engine": bool(sandbox.get("engine")),
            "images": images,
            "database": database,
            "failing": failing,
            "degraded": degraded,
            "detail": str(sandbox.get("detail", "")),
        }

    def render_metrics(self) -> str:
        gauges = Gauges(
            queue_length=self.capacity.queued,
            sandboxes_busy=self.sandbox.busy,
            connections=self.connections,
            pool_ready=self.sandbox.pool.ready(),
            outbox_pending=self.dispatcher.counts.pending,
            outbox_abandoned=self.dispatcher.counts.abandoned,
            webhooks_delivered=self.dispatcher.delivered,
            webhook_failures=self.dispatcher.failures,
        )
        return self.metrics.render(gauges)
