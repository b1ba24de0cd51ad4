"""Grading runs into test results and a verdict: pure unit tests, then the real sandbox."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from runner.checking import (
    CheckStatus,
    CheckSummary,
    Difference,
    TestResult,
    TestStatus,
    UnknownTest,
    grade,
    submission_for,
    summarize,
)
from runner.checking.report import result_lines, summary_line
from runner.exercises import CompareMode, Exercise, TestCase
from runner.sandbox.models import Finished, Language, Limits, Outcome, Run, RunFinished
from runner.settings import Settings

SECRET_STDIN = "ENTREE-SECRETE-4821"
SECRET_EXPECTED = "ATTENDU-SECRET-9377"


def _exercise(*tests: TestCase, language: Language = Language.PYTHON) -> Exercise:
    return Exercise(
        id="essai",
        title="Essai",
        language=language,
        instructions="# Essai",
        starter="",
        solution="print(input())\n",
        hints=("Un indice.",),
        tests=tests,
        limits={"time_s": 4.0},
        week=1,
        source=Path("exercises/semaine-1/essai.json"),
    )


ECHO = _exercise(
    TestCase("Léa", stdin="Léa\n", expected="Bonjour, Léa !"),
    TestCase("Nombres", stdin="7\n2\n", expected="3.5", compare=CompareMode.NUMBERS, time_s=2.0),
    TestCase("Caché", stdin=SECRET_STDIN + "\n", expected=SECRET_EXPECTED, hidden=True),
)


def _run(
    index: int, stdout: str = "", outcome: Outcome = Outcome.OK, stderr: str = ""
) -> RunFinished:
    exit_code = 0 if outcome is Outcome.OK else 1
    return RunFinished(index, outcome, exit_code, 12.5, stdout, stderr)


def test_submission_for_makes_one_run_per_test_with_its_stdin_and_time() -> None:
    settings = Settings.from_env({}, max_time_limit_s=3.0)
    submission = submission_for(ECHO, "print(1)", settings)
    assert submission.language is Language.PYTHON
    assert submission.code == "print(1)"
    assert submission.runs == (
        Run(stdin="Léa\n", time_s=None),
        Run(stdin="7\n2\n", time_s=2.0),
        Run(stdin=SECRET_STDIN + "\n", time_s=None),
    )
    assert submission.limits == Limits(time_s=3.0)  # the exercise's 4 s, clamped


def test_grade_a_passing_test() -> None:
    result = grade(ECHO, _run(0, "Bonjour, Léa !\n"))
    assert result == TestResult(
        index=0,
        name="Léa",
        hidden=False,
        status=TestStatus.PASSED,
        expected="Bonjour, Léa !",
        actual="Bonjour, Léa !\n",
        difference=None,
        message="Test réussi.",
        explanation=None,
        duration_ms=12.5,
    )


def test_grade_a_failing_test_shows_the_first_difference() -> None:
    result = grade(ECHO, _run(0, "Bonjour Léa!\n"))
    assert result.status is TestStatus.FAILED
    assert result.difference == Difference(1, 8, "Bonjour, Léa !", "Bonjour Léa!")
    assert result.message == (
        "Ta sortie n'est pas celle attendue : première différence ligne 1, colonne 8."
    )
    assert result.public() == {
        "type": "test",
        "index": 0,
        "name": "Léa",
        "hidden": False,
        "status": "failed",
        "message": result.message,
        "expected": "Bonjour, Léa !",
        "actual": "Bonjour Léa!\n",
        "difference": {
            "line": 1,
            "column": 8,
            "expected_line": "Bonjour, Léa !",
            "actual_line": "Bonjour Léa!",
        },
        "explanation": None,
    }


def test_grade_without_output_reminds_to_print() -> None:
    assert grade(ECHO, _run(0, "")).message == (
        "Ton programme n'a rien affiché. As-tu oublié `print(...)` ?"
    )
    javascript = replace(ECHO, language=Language.JAVASCRIPT)
    assert grade(javascript, _run(0, "\n")).message == (
        "Ton programme n'a rien affiché. As-tu oublié `console.log(...)` ?"
    )


def test_grade_numbers_names_the_wrong_number() -> None:
    result = grade(ECHO, _run(1, "3\n"))
    assert (result.status, result.difference) == (TestStatus.FAILED, None)
    assert result.message == "On attendait `3.5`, mais ton programme affiche `3`."
    assert grade(ECHO, _run(1, "3.5000000001")).status is TestStatus.PASSED


def test_grade_an_error_explains_it() -> None:
    stderr = (
        "Traceback (most recent call last):\n"
        '  File "/tmp/main.py", line 2, in <module>\n'
        '    print("Bonjour, " + nmo + " !")\n'
        "                        ^^^\n"
        "NameError: name 'nmo' is not defined\n"
    )
    code = 'nom = input()\nprint("Bonjour, " + nmo + " !")\n'
    result = grade(ECHO, _run(0, outcome=Outcome.ERROR, stderr=stderr), code=code)
    assert result.status is TestStatus.ERROR
    assert result.message == "Ton programme s'est arrêté sur une erreur."
    assert result.explanation is not None
    assert result.explanation.line == 2
    assert result.explanation.text.endswith("Tu voulais peut-être dire `nom` ?")
    assert result.public()["explanation"] == result.explanation.public()


@pytest.mark.parametrize(
    ("outcome", "index", "status", "message"),
    [
        (
            Outcome.TIMEOUT,
            1,
            TestStatus.TIMEOUT,
            "Ton programme a dépassé 2 s : y a-t-il une boucle infinie, ou un input() de "
            "trop, qui attend une ligne que le test ne donne pas ?",
        ),
        (
            Outcome.TIMEOUT,
            0,
            TestStatus.TIMEOUT,
            "Ton programme a dépassé 4 s : y a-t-il une boucle infinie, ou un input() de "
            "trop, qui attend une ligne que le test ne donne pas ?",
        ),
        (
            Outcome.MEMORY,
            0,
            TestStatus.MEMORY,
            "Ton programme a utilisé plus de 256 Mio de mémoire : une liste grandit-elle sans "
            "fin ?",
        ),
        (
            Outcome.OUTPUT_LIMIT,
            0,
            TestStatus.OUTPUT_LIMIT,
            "Ton programme a affiché plus de 64 Kio : un print dans une boucle qui ne s'arrête "
            "pas ?",
        ),
        (Outcome.STOPPED, 0, TestStatus.ERROR, "Exécution arrêtée."),
    ],
)
def test_grade_limits_and_stops(
    outcome: Outcome, index: int, status: TestStatus, message: str
) -> None:
    result = grade(ECHO, _run(index, "x" * 10, outcome))
    assert (result.status, result.message, result.explanation) == (status, message, None)


def test_grade_uses_the_limits_it_is_given() -> None:
    result = grade(ECHO, _run(0, outcome=Outcome.MEMORY), limits=Limits(memory_mib=128))
    assert result.message.startswith("Ton programme a utilisé plus de 128 Mio de mémoire")


@pytest.mark.parametrize(
    ("run", "status", "message"),
    [
        (_run(2, SECRET_EXPECTED + "\n"), "passed", "Test caché réussi."),
        (
            _run(2, SECRET_STDIN + "\n"),
            "failed",
            "Test caché non réussi : pour une entrée que tu ne vois pas, ton programme "
            "n'affiche pas le résultat attendu. Pense aux cas particuliers : zéro, un nombre "
            "négatif, un texte vide…",
        ),
        (
            _run(2, SECRET_STDIN, Outcome.ERROR, f"ValueError: invalid literal: '{SECRET_STDIN}'"),
            "error",
            "Test caché : ton programme s'est arrêté sur une erreur. Pense aux cas "
            "particuliers : zéro, un nombre négatif, un texte vide…",
        ),
    ],
)
def test_hidden_test_public_reveals_nothing(run: RunFinished, status: str, message: str) -> None:
    result = grade(ECHO, run, code="print(input())")
    assert (result.expected, result.actual, result.difference, result.explanation) == (
        None,
        None,
        None,
        None,
    )
    public = result.public()
    assert public == {
        "type": "test",
        "index": 2,
        "name": "Caché",
        "hidden": True,
        "status": status,
        "message": message,
    }
    assert SECRET_STDIN not in json.dumps(public)
    assert SECRET_EXPECTED not in json.dumps(public)


def test_grade_rejects_an_unknown_test_index() -> None:
    with pytest.raises(UnknownTest, match="exercise 'essai' has no test 3"):
        grade(ECHO, _run(3))


def test_public_cuts_very_long_outputs() -> None:
    actual = grade(ECHO, _run(0, "a" * 50_000)).public()["actual"]
    assert actual == "a" * 20_000 + "\n…"


def _results(*statuses: TestStatus) -> list[TestResult]:
    return [
        TestResult(i, f"t{i}", False, status, "", "", None, "", None, 1.0)
        for i, status in enumerate(statuses)
    ]


def _finished(outcome: Outcome = Outcome.OK, exit_code: int | None = 0) -> Finished:
    return Finished(outcome, exit_code, 321.0, 3)


def test_summarize_all_passed() -> None:
    summary = summarize(ECHO, _results(*[TestStatus.PASSED] * 3), _finished())
    assert summary == CheckSummary(
        CheckStatus.PASSED, 3, 3, 321.0, 0, "Bravo ! Les 3 tests sont réussis."
    )
    assert summary.public() == {
        "type": "finished",
        "status": "passed",
        "exit_code": 0,
        "duration_ms": 321.0,
        "passed": 3,
        "total": 3,
        "message": "Bravo ! Les 3 tests sont réussis.",
    }


def test_summarize_counts_missing_results_as_failed() -> None:
    summary = summarize(ECHO, _results(TestStatus.PASSED), _finished(Outcome.ERROR, 1))
    assert (summary.status, summary.passed, summary.total, summary.exit_code) == (
        CheckStatus.FAILED,
        1,
        3,
        1,
    )
    assert summary.message == (
        "1 test réussi sur 3. Lis le premier test en échec, corrige ton code et relance !"
    )


def test_summarize_a_stopped_check() -> None:
    summary = summarize(
        ECHO, _results(TestStatus.PASSED, TestStatus.PASSED), _finished(Outcome.STOPPED)
    )
    assert (summary.status, summary.message) == (
        CheckStatus.STOPPED,
        "Exécution arrêtée : 2 tests réussis sur 3 avant l'arrêt.",
    )


def test_summarize_an_unavailable_engine() -> None:
    limits = Limits(time_s=4.0, memory_mib=128)
    summary = summarize(
        ECHO, _results(TestStatus.PASSED), _finished(Outcome.UNAVAILABLE, None), limits=limits
    )
    assert (summary.status, summary.passed, summary.total) == (CheckStatus.UNAVAILABLE, 1, 3)
    assert summary.public()["status"] == "unavailable"
    assert summary.message.startswith("Le service d'exécution est momentanément indisponible.")
    assert summary_line(summary) == f"⚠ {summary.message}"


def test_report_lines_for_a_visible_failure_mark_the_column() -> None:
    lines = result_lines(grade(ECHO, _run(0, "Bonjour Léa!\n")))
    assert lines == [
        "✗ Test 1 : Léa",
        "  Ta sortie n'est pas celle attendue : première différence ligne 1, colonne 8.",
        "  Attendu : Bonjour,·Léa·!",
        "  Obtenu  : Bonjour·Léa!",
        "                   ^ ligne 1, colonne 8",
    ]
    assert summary_line(summarize(ECHO, [], _finished())) == (
        "✗ 0 test réussi sur 3. Lis le premier test en échec, corrige ton code et relance !"
    )


# --------------------------------------------------------------------------- real sandbox
async def _check(
    sandbox: object, exercise: Exercise, code: str, settings: Settings
) -> tuple[list[TestResult], CheckSummary]:
    from runner.cli.authoring import check_code

    run = await check_code(sandbox, exercise, code, settings)
    assert run.summary is not None, run.unavailable
    return run.results, run.summary


@pytest.mark.docker
@pytest.mark.anyio
async def test_real_check_of_a_correct_program(sandbox: object, settings: Settings) -> None:
    code = 'nom = input()\nprint("Bonjour, " + nom + " !")\n'
    exercise = _exercise(
        TestCase("Léa", stdin="Léa\n", expected="Bonjour, Léa !"),
        TestCase("Tom", stdin="Tom\n", expected="bonjour, tom !", compare=CompareMode.IGNORE_CASE),
        TestCase("Caché", stdin="Zoé\n", expected="Bonjour, Zoé !", hidden=True),
    )
    results, summary = await _check(sandbox, exercise, code, settings)
    assert [r.status for r in results] == [TestStatus.PASSED] * 3
    assert (summary.status, summary.passed, summary.total) == (CheckStatus.PASSED, 3, 3)


@pytest.mark.docker
@pytest.mark.anyio
async def test_real_hidden_test_leaks_nothing_in_public_events(
    sandbox: object, settings: Settings
) -> None:
    code = "texte = input()\nprint(texte)\nprint(int(texte))\n"  # echoes, then crashes
    exercise = _exercise(
        TestCase("Visible", stdin="12\n", expected="12\n12\n"),
        TestCase("Caché", stdin=SECRET_STDIN + "\n", expected=SECRET_EXPECTED, hidden=True),
    )
    results, summary = await _check(sandbox, exercise, code, settings)
    assert [r.status for r in results] == [TestStatus.PASSED, TestStatus.ERROR]
    published = json.dumps([r.public() for r in results] + [summary.public()], ensure_ascii=False)
    assert SECRET_STDIN not in published
    assert SECRET_EXPECTED not in published
    assert "ValueError" not in published  # the hidden error's text would quote the input
    assert results[1].public()["message"].startswith("Test caché : ton programme s'est arrêté")


@pytest.mark.docker
@pytest.mark.anyio
async def test_real_error_is_explained_at_the_learner_line(
    sandbox: object, settings: Settings
) -> None:
    code = "nom = input()\n\nprint('Bonjour', nmo)\n"
    exercise = _exercise(TestCase("Léa", stdin="Léa\n", expected="Bonjour Léa"))
    results, summary = await _check(sandbox, exercise, code, settings)
    (result,) = results
    assert result.status is TestStatus.ERROR
    assert result.explanation is not None
    assert (result.explanation.title, result.explanation.line) == ("Nom inconnu : « nmo »", 3)
    assert result.explanation.original == "NameError: name 'nmo' is not defined"
    assert summary.status is CheckStatus.FAILED


@pytest.mark.docker
@pytest.mark.anyio
async def test_real_javascript_error_is_explained(sandbox: object, settings: Settings) -> None:
    code = (
        "const lignes = require('fs').readFileSync(0, 'utf8').split('\\n');\n"
        "console.log(lignes[5].length);\n"
    )
    exercise = _exercise(TestCase("Vide", stdin="a\n", expected="1"), language=Language.JAVASCRIPT)
    (result,), _ = await _check(sandbox, exercise, code, settings)
    assert result.status is TestStatus.ERROR
    assert result.explanation is not None
    assert (result.explanation.title, result.explanation.line) == ("Valeur « undefined »", 2)


@pytest.mark.docker
@pytest.mark.anyio
async def test_real_timeout_names_the_test_time_limit(sandbox: object, settings: Settings) -> None:
    exercise = _exercise(TestCase("Boucle", expected="fin", time_s=1.0))
    (result,), summary = await _check(sandbox, exercise, "while True:\n    pass\n", settings)
    assert result.status is TestStatus.TIMEOUT
    assert result.message.startswith("Ton programme a dépassé 1 s :")
    assert (summary.status, summary.passed) == (CheckStatus.FAILED, 0)


def test_hidden_test_failure_says_what_its_description_says() -> None:
    from runner.checking.messages import hidden_error_message, hidden_failure_message

    described = hidden_failure_message("ce test vérifie que rien d'autre n'est affiché")
    assert described.endswith("Ce test vérifie que rien d'autre n'est affiché.")
    assert "zéro" not in described
    assert "zéro" in hidden_failure_message()  # no description: the general hint
    assert hidden_error_message("ce test vérifie zéro ?").endswith("Ce test vérifie zéro ?")


def test_questions_are_not_answers_unless_the_exercise_says_so() -> None:
    asked = RunFinished(
        0,
        Outcome.OK,
        0,
        5.0,
        "Bonjour, Léa !\n",
        "",
        "Ton prénom ? ",
        "Ton prénom ? Bonjour, Léa !\n",
    )
    assert grade(ECHO, asked).status is TestStatus.PASSED
    strict = replace(ECHO, check_prompts=True)
    failed = grade(strict, asked)
    assert failed.status is TestStatus.FAILED and failed.actual == "Ton prénom ? Bonjour, Léa !\n"
    wanted = replace(
        strict, tests=(TestCase("q", stdin="Léa\n", expected="Ton prénom ? Bonjour, Léa !"),)
    )
    assert grade(wanted, asked).status is TestStatus.PASSED
