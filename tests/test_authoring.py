"""``decode-runner validate`` and ``decode-runner try``, run through the real command-line entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.fixture
def engine_env(monkeypatch: pytest.MonkeyPatch, instance: str) -> None:
    """The CLI reads its settings from the environment: a unique instance, no warm pool."""
    monkeypatch.setenv("DECODE_INSTANCE", instance)
    monkeypatch.setenv("DECODE_POOL_SIZE", "0")
    monkeypatch.setenv("DECODE_EXERCISES_DIR", str(ROOT / "exercises"))


def test_validate_no_run_accepts_the_course(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--no-run"]) == 0
    out = capsys.readouterr().out
    assert "bonjour-monde" in out
    assert out.rstrip().endswith("0 problems")


def test_validate_no_run_prints_each_problem_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", "--no-run", "tests/fixtures/specs/missing-exercise"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert (
        "tests/fixtures/specs/missing-exercise/course.json: /weeks/0/exercises/1: "
        "no exercise with id 'fantome'"
    ) in lines
    assert lines[-1] == "1 problem"


def test_validate_one_file_reports_only_that_file(capsys: pytest.CaptureFixture[str]) -> None:
    path = "tests/fixtures/specs/week-mismatch/semaine-2/au-revoir.json"
    assert main(["validate", "--no-run", path]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line.startswith("tests/")] == [
        f"{path}: /week: week 1, but tests/fixtures/specs/week-mismatch/course.json lists "
        "'au-revoir' in week 2"
    ]


def test_validate_one_good_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--no-run", "exercises/semaine-1/double.json"]) == 0
    out = capsys.readouterr().out
    assert "double" in out and "bonjour-monde" not in out


def test_validate_a_missing_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--no-run", "nulle-part"]) == 2
    assert capsys.readouterr().err == "nulle-part: /: file not found\n"


def test_try_an_unknown_exercise(capsys: pytest.CaptureFixture[str], engine_env: None) -> None:
    assert main(["try", "fantome", "solution.py"]) == 2
    assert capsys.readouterr().err == "decode-runner try: no valid exercise with id 'fantome'\n"


def _course(folder: Path, spec: dict[str, Any]) -> None:
    course = {"title": "C", "weeks": [{"number": 1, "title": "S1", "exercises": [spec["id"]]}]}
    (folder / "course.json").write_text(json.dumps(course), encoding="utf-8")
    (folder / "semaine-1").mkdir()
    (folder / "semaine-1" / f"{spec['id']}.json").write_text(json.dumps(spec), encoding="utf-8")


@pytest.mark.docker
def test_validate_runs_solutions_and_starters_in_the_sandbox(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    engine_env: None,
) -> None:
    spec = {
        "id": "faux",
        "title": "Faux",
        "language": "python",
        "week": 1,
        "instructions": "# Faux",
        "starter": "print('oui')\n",  # passes every test: wrong
        "solution": "print('non')\n",  # fails: wrong
        "hints": ["a", "b"],
        "tests": [{"name": "Un", "expected": "oui"}, {"name": "Deux", "expected": "oui"}],
    }
    _course(tmp_path, spec)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "."]) == 1
    lines = capsys.readouterr().out.splitlines()
    problems = [line for line in lines if line.startswith("semaine-1/")]
    assert problems == [
        "semaine-1/faux.json: /solution: fails test 0 'Un' (failed): printed 'non\\n', "
        "expected 'oui' (exact)",
        "semaine-1/faux.json: /solution: fails test 1 'Deux' (failed): printed 'non\\n', "
        "expected 'oui' (exact)",
        "semaine-1/faux.json: /starter: passes every test; it must fail one",
    ]
    assert lines[-1] == "3 problems"


@pytest.mark.docker
def test_validate_one_course_exercise_in_the_sandbox(
    capsys: pytest.CaptureFixture[str], engine_env: None
) -> None:
    # The whole course runs in tests/test_course.py; here, the command on one real spec.
    assert main(["validate", "exercises/semaine-2/signe.json"]) == 0
    out = capsys.readouterr().out
    assert "signe" in out and "✓" in out
    assert out.rstrip().endswith("0 problems")


@pytest.mark.docker
def test_try_a_passing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], engine_env: None
) -> None:
    solution = tmp_path / "solution.py"
    solution.write_text("n = int(input())\nprint(n * 2)\n", encoding="utf-8")
    assert main(["try", "double", str(solution)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Le double d'un nombre (double) : 3 tests",
        "✓ Test 1 : Le double de 4",
        "✓ Test 2 : Le double de 0",
        "✓ Test 3 : Un nombre négatif (test caché)",
        "✓ Bravo ! Les 3 tests sont réussis.",
    ]


@pytest.mark.docker
def test_try_a_failing_file_shows_the_same_feedback_as_a_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], engine_env: None
) -> None:
    attempt = tmp_path / "essai.py"
    attempt.write_text("n = input()\nprint(n * 2)\n", encoding="utf-8")
    assert main(["try", "double", str(attempt)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "Le double d'un nombre (double) : 3 tests",
        "✗ Test 1 : Le double de 4",
        "  Ta sortie n'est pas celle attendue : première différence ligne 1, colonne 1.",
        "  Attendu : 8",
        "  Obtenu  : 44",
        "            ^ ligne 1, colonne 1",
        "✗ Test 2 : Le double de 0",
        "  Ta sortie n'est pas celle attendue : première différence ligne 1, colonne 2.",
        "  Attendu : 0",
        "  Obtenu  : 00",
        "             ^ ligne 1, colonne 2",
        "✗ Test 3 : Un nombre négatif (test caché)",
        "  Test caché non réussi : pour une entrée que tu ne vois pas, ton programme n'affiche "
        "pas le résultat attendu. Ce test vérifie que le calcul marche aussi avec un nombre en "
        "dessous de zéro.",
        "✗ 0 test réussi sur 3. Lis le premier test en échec, corrige ton code et relance !",
    ]


def test_try_with_the_engine_down_says_unavailable(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    engine_env: None,
) -> None:
    monkeypatch.setenv("DECODE_DOCKER_SOCKET", str(tmp_path / "no-docker.sock"))
    solution = tmp_path / "solution.py"
    solution.write_text("n = int(input())\nprint(n * 2)\n", encoding="utf-8")
    assert main(["try", "double", str(solution)]) == 3
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Le double d'un nombre (double) : 3 tests"
    assert lines[1].startswith("⚠ Le service d'exécution est momentanément indisponible.")
    assert lines[2].startswith("Bac à sable indisponible : ")
    assert not any(line.startswith(("✓", "✗")) for line in lines)


@pytest.mark.docker
def test_try_leaves_a_running_server_s_containers_alone(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    engine_env: None,
    instance: str,
    docker_client: Any,
) -> None:
    # A container of the instance the settings name, as a running server would own.
    labels = {"decode-runner": "1", "decode-runner.node": instance}
    server_owned = docker_client.containers.create("decode-runner-python", labels=labels)
    try:
        solution = tmp_path / "solution.py"
        solution.write_text("n = int(input())\nprint(n * 2)\n", encoding="utf-8")
        assert main(["try", "double", str(solution)]) == 0
        server_owned.reload()  # raises NotFound if the CLI reaped it
    finally:
        server_owned.remove(force=True)
    assert capsys.readouterr().out.rstrip().endswith("Bravo ! Les 3 tests sont réussis.")
