"""The /ws protocol (docs/protocol.md): parsing client frames, building server messages."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from runner.store import ExerciseProgress


class Mode(StrEnum):
    RUN = "run"
    CHECK = "check"


class ErrorCode(StrEnum):
    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    BINARY = "binary"
    TOO_LARGE = "too_large"
    UNKNOWN_EXERCISE = "unknown_exercise"
    BUSY = "busy"
    RATE_LIMITED = "rate_limited"
    OVERLOADED = "overloaded"
    SHUTTING_DOWN = "shutting_down"
    NOT_RUNNING = "not_running"
    NOT_INTERACTIVE = "not_interactive"
    LEARNER = "learner"
    SESSION_EXPIRED = "session_expired"
    INTERNAL = "internal"


MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.INVALID_JSON: "Message illisible : le serveur attend un objet JSON.",
    ErrorCode.INVALID_MESSAGE: "Message incompris par le serveur.",
    ErrorCode.BINARY: "Message binaire refusé : le serveur attend du texte JSON.",
    ErrorCode.TOO_LARGE: "Ton programme est trop long : {limit} Kio au maximum.",
    ErrorCode.UNKNOWN_EXERCISE: "Cet exercice n'existe pas.",
    ErrorCode.BUSY: "Un programme est déjà en cours : arrête-le ou attends qu'il se termine.",
    ErrorCode.RATE_LIMITED: (
        "Doucement ! Trop d'exécutions en une minute : attends quelques secondes."
    ),
    ErrorCode.OVERLOADED: "Beaucoup de monde en ce moment : réessaie dans quelques secondes.",
    ErrorCode.SHUTTING_DOWN: "Le serveur redémarre : réessaie dans quelques secondes.",
    ErrorCode.NOT_RUNNING: "Aucun programme n'est en cours.",
    ErrorCode.NOT_INTERACTIVE: "La vérification ne lit pas le clavier : utilise « Exécuter ».",
    ErrorCode.LEARNER: "Identifiant d'apprenant invalide : recharge la page.",
    ErrorCode.SESSION_EXPIRED: (
        "Ta session a expiré : recharge la page du cours pour retrouver ton travail."
    ),
    ErrorCode.INTERNAL: "Erreur interne du serveur : réessaie dans un instant.",
}


class ProtocolError(Exception):
    """A client message the server refuses; becomes an ``error`` message at the edge."""

    def __init__(self, code: ErrorCode, detail: str = "", **values: object) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail
        self.values = values

    def message(self) -> str:
        return MESSAGES[self.code].format(**self.values)


@dataclass(frozen=True)
class RunRequest:
    exercise: str
    code: str
    mode: Mode
    # The client's own id for this submission: sent again (after a failover), it is not counted
    # twice and its result is recorded once.
    submission: str | None = None


@dataclass(frozen=True)
class StdinData:
    data: str


@dataclass(frozen=True)
class StdinEof:
    pass


@dataclass(frozen=True)
class StopRequest:
    pass


ClientMessage = RunRequest | StdinData | StdinEof | StopRequest


@cache
def _validator() -> Draft202012Validator:
    text = resources.files("runner.web").joinpath("protocol.schema.json").read_text("utf-8")
    return Draft202012Validator(json.loads(text))


MAX_JSON_DEPTH = 32
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


class TooDeep(ValueError):
    """JSON nested deeper than ``MAX_JSON_DEPTH``."""


def loads_bounded(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads``, after checking the nesting depth without recursion: every client document
    goes through here (a frame, a request body), so no input reaches a recursive parser or
    validator deep enough to exhaust the stack. Raises ValueError (``TooDeep`` included)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    depth = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > max_depth:
            raise TooDeep(f"nested deeper than {max_depth}")
    return json.loads(text)


def parse(frame: str, max_code_bytes: int) -> ClientMessage:
    """One client text frame as a message, or ``ProtocolError``."""
    try:
        document = loads_bounded(frame)
    except (ValueError, RecursionError):
        raise ProtocolError(ErrorCode.INVALID_JSON) from None
    if not isinstance(document, dict):
        raise ProtocolError(ErrorCode.INVALID_JSON)
    error = best_match(_validator().iter_errors(document))
    if error is not None:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, _describe(document, error.message))
    return _message(document, max_code_bytes)


def _message(document: dict[str, Any], max_code_bytes: int) -> ClientMessage:
    kind = document["type"]
    if kind == "run":
        size = _utf8_size(document["code"])
        if size > max_code_bytes:
            raise ProtocolError(
                ErrorCode.TOO_LARGE, f"code is {size} bytes", limit=max_code_bytes // 1024
            )
        return RunRequest(
            document["exercise"],
            document["code"],
            Mode(document["mode"]),
            document.get("submission"),
        )
    if kind == "stdin":
        _utf8_size(document["data"])
        return StdinData(document["data"])
    return StdinEof() if kind == "stdin_eof" else StopRequest()


def _utf8_size(value: str) -> int:
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "text is not valid Unicode") from None


def _describe(document: dict[str, Any], reason: str) -> str:
    kind = document.get("type")
    if kind not in ("run", "stdin", "stdin_eof", "stop"):
        return f"unknown type {kind!r}" if "type" in document else "missing type"
    return f"bad {kind!r} message: {reason}"[:200]


def error(code: ErrorCode, message: str | None = None, detail: str = "") -> dict[str, Any]:
    payload: dict[str, Any] = {"type": "error", "code": str(code)}
    payload["message"] = message if message is not None else MESSAGES[code]
    if detail:
        payload["detail"] = detail
    return payload


def from_protocol_error(exc: ProtocolError) -> dict[str, Any]:
    return error(exc.code, exc.message(), exc.detail)


def welcome(learner: str | None, issued: bool) -> dict[str, Any]:
    """``learner`` is None for a platform account: its id never leaves the server."""
    return {"type": "welcome", "learner": learner, "issued": issued, "account": learner is None}


def queued(position: int) -> dict[str, Any]:
    return {"type": "queued", "position": position}


def started(mode: Mode, exercise: str, total: int, saved: bool) -> dict[str, Any]:
    """``saved``: the submitted code is stored (a reload restores it)."""
    return {
        "type": "started",
        "mode": str(mode),
        "exercise": exercise,
        "total": total,
        "saved": saved,
    }


def output(stream: str, data: str) -> dict[str, Any]:
    return {"type": "output", "stream": stream, "data": data}


def progress(exercise: str, recorded: ExerciseProgress) -> dict[str, Any]:
    """``attempts`` counts checks and runs; ``checks`` ("Essais") and ``runs`` apart."""
    return {
        "type": "progress",
        "exercise": exercise,
        "solved": recorded.solved,
        "attempts": recorded.attempts,
        "checks": recorded.checks,
        "runs": recorded.runs,
    }
