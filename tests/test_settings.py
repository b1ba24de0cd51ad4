"""Settings read from DECODE_* variables: types, renamed variables, refused values (pure units)."""

from __future__ import annotations

import pytest

from runner.settings import Settings, SettingsError


def test_node_id_is_read_under_its_name_and_its_old_one() -> None:
    assert Settings.from_env({}).node_id == "default"
    assert Settings.from_env({"DECODE_NODE_ID": "node-a"}).node_id == "node-a"
    assert Settings.from_env({"DECODE_INSTANCE": "old"}).node_id == "old"  # the earlier name
    both = {"DECODE_NODE_ID": "node-a", "DECODE_INSTANCE": "old"}
    assert Settings.from_env(both).node_id == "node-a"  # the new name wins


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_node_id_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="DECODE_NODE_ID"):
        Settings.from_env({"DECODE_NODE_ID": value})


def test_trusted_proxies_are_a_comma_separated_list() -> None:
    settings = Settings.from_env({"DECODE_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,"})
    assert settings.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")


def test_a_number_of_the_wrong_type_names_its_variable() -> None:
    with pytest.raises(SettingsError, match="DECODE_PORT='eighty'"):
        Settings.from_env({"DECODE_PORT": "eighty"})


def test_every_log_line_names_the_node() -> None:
    """A cluster's gathered logs say which node wrote each line: uvicorn's lines (access ones
    included) and the runner's own."""
    import logging

    from uvicorn.logging import AccessFormatter, DefaultFormatter

    from runner.cli.serve import log_config

    config = log_config("node-%a")  # a "%" in the id is not a format directive
    access = AccessFormatter(config["formatters"]["access"]["fmt"], use_colors=False)
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/healthz", "1.1", 200),
        None,
    )
    assert access.format(record).startswith("INFO:     [node node-%a] 127.0.0.1:5000 - ")
    default = DefaultFormatter(config["formatters"]["default"]["fmt"], use_colors=False)
    line = logging.LogRecord("uvicorn.error", logging.WARNING, "", 0, "draining", (), None)
    assert default.format(line) == "WARNING:  [node node-%a] draining"
