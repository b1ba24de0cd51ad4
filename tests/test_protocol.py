"""Parsing /ws client frames (pure): every bad input becomes a ProtocolError with a code."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.web import protocol
from runner.web.protocol import (
    MESSAGES,
    ErrorCode,
    Mode,
    ProtocolError,
    RunRequest,
    StdinData,
    StdinEof,
    StopRequest,
)

LIMIT = 64 * 1024


def parse(document: Any) -> protocol.ClientMessage:
    return protocol.parse(json.dumps(document), LIMIT)


def code_of(frame: str) -> ErrorCode:
    with pytest.raises(ProtocolError) as info:
        protocol.parse(frame, LIMIT)
    return info.value.code


def test_protocol_parses_each_client_message() -> None:
    run = {"type": "run", "exercise": "s1-bonjour", "code": "print(1)", "mode": "check"}
    assert parse(run) == RunRequest("s1-bonjour", "print(1)", Mode.CHECK)
    assert parse({"type": "stdin", "data": "Ada\n"}) == StdinData("Ada\n")
    assert parse({"type": "stdin_eof"}) == StdinEof()
    assert parse({"type": "stop"}) == StopRequest()


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ("not json", ErrorCode.INVALID_JSON),
        ("[1, 2]", ErrorCode.INVALID_JSON),
        ('"run"', ErrorCode.INVALID_JSON),
        ("{}", ErrorCode.INVALID_MESSAGE),
        ('{"type": "dance"}', ErrorCode.INVALID_MESSAGE),
        ('{"type": 3}', ErrorCode.INVALID_MESSAGE),
        ('{"type": "run", "exercise": "x", "code": "y"}', ErrorCode.INVALID_MESSAGE),
        ('{"type": "run", "exercise": "x", "code": 1, "mode": "run"}', ErrorCode.INVALID_MESSAGE),
        ('{"type": "run", "exercise": "x", "code": "", "mode": "fast"}', ErrorCode.INVALID_MESSAGE),
        ('{"type": "run", "exercise": "", "code": "", "mode": "run"}', ErrorCode.INVALID_MESSAGE),
        ('{"type": "stdin"}', ErrorCode.INVALID_MESSAGE),
        ('{"type": "stdin", "data": null}', ErrorCode.INVALID_MESSAGE),
        ('{"type": "stop", "now": true}', ErrorCode.INVALID_MESSAGE),
        ('{"type": "stdin", "data": "\\ud800"}', ErrorCode.INVALID_MESSAGE),
    ],
)
def test_protocol_rejects_bad_frames(frame: str, expected: ErrorCode) -> None:
    assert code_of(frame) == expected


def test_protocol_invalid_message_detail_names_the_problem() -> None:
    with pytest.raises(ProtocolError) as info:
        parse({"type": "dance"})
    assert "dance" in info.value.detail
    with pytest.raises(ProtocolError) as info:
        parse({"type": "run", "exercise": "x", "code": "y"})
    assert "mode" in info.value.detail


def test_protocol_code_limit_counts_utf8_bytes() -> None:
    at_limit = "é" * (LIMIT // 2)
    assert isinstance(
        parse({"type": "run", "exercise": "x", "code": at_limit, "mode": "run"}), RunRequest
    )
    with pytest.raises(ProtocolError) as info:
        parse({"type": "run", "exercise": "x", "code": at_limit + "a", "mode": "run"})
    assert info.value.code is ErrorCode.TOO_LARGE
    assert info.value.message() == "Ton programme est trop long : 64 Kio au maximum."


def test_protocol_every_error_code_has_a_french_message() -> None:
    assert set(MESSAGES) == set(ErrorCode)
    for code in ErrorCode:
        payload = protocol.error(code) if code is not ErrorCode.TOO_LARGE else None
        if payload is not None:
            assert payload == {"type": "error", "code": code.value, "message": MESSAGES[code]}
    assert "Beaucoup de monde en ce moment" in MESSAGES[ErrorCode.OVERLOADED]


def test_protocol_error_payload_carries_detail_only_when_given() -> None:
    exc = ProtocolError(ErrorCode.UNKNOWN_EXERCISE, "no exercise 'x'")
    assert protocol.from_protocol_error(exc) == {
        "type": "error",
        "code": "unknown_exercise",
        "message": "Cet exercice n'existe pas.",
        "detail": "no exercise 'x'",
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
message_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["run", "stdin", "stdin_eof", "stop", "other"])},
    optional={
        "exercise": json_values,
        "code": json_values,
        "mode": st.sampled_from(["run", "check", "x"]) | json_values,
        "data": json_values,
    },
)


@given(st.one_of(json_values, message_like))
def test_protocol_parse_never_fails_unexpectedly(document: Any) -> None:
    try:
        message = protocol.parse(json.dumps(document), LIMIT)
    except ProtocolError as exc:
        assert exc.code in ErrorCode
        assert protocol.from_protocol_error(exc)["message"]
    else:
        assert isinstance(message, RunRequest | StdinData | StdinEof | StopRequest)
        assert isinstance(document, dict) and document["type"] != "other"


@given(st.text(max_size=200))
def test_protocol_parse_of_any_text_is_a_message_or_a_protocol_error(frame: str) -> None:
    try:
        protocol.parse(frame, LIMIT)
    except ProtocolError as exc:
        assert exc.code in {ErrorCode.INVALID_JSON, ErrorCode.INVALID_MESSAGE}
