"""The French sentences of a check: one per test result, one for the verdict."""

from __future__ import annotations

from runner.checking.compare import Difference, first_number_mismatch, normalize
from runner.exercises.models import CompareMode, TestCase
from runner.sandbox.models import Language

_HIDDEN_HINT = "Pense aux cas particuliers : zéro, un nombre négatif, un texte vide…"
_PRINT = {Language.PYTHON: "print(...)", Language.JAVASCRIPT: "console.log(...)"}


def count(number: int, noun: str, adjective: str = "") -> str:
    """French agreement: "0 test réussi", "1 test réussi", "2 tests réussis"."""
    plural = "s" if number > 1 else ""
    words = f"{number} {noun}{plural}"
    return f"{words} {adjective}{plural}" if adjective else words


def passed_message(hidden: bool) -> str:
    return "Test caché réussi." if hidden else "Test réussi."


def hidden_failure_message(description: str = "") -> str:
    """The author's description of the test says what to look at; without one, a general hint."""
    hint = _described(description) or _HIDDEN_HINT
    return (
        "Test caché non réussi : pour une entrée que tu ne vois pas, ton programme n'affiche "
        f"pas le résultat attendu. {hint}"
    )


def hidden_error_message(description: str = "") -> str:
    hint = _described(description) or _HIDDEN_HINT
    return f"Test caché : ton programme s'est arrêté sur une erreur. {hint}"


def _described(description: str) -> str:
    if not description:
        return ""
    sentence = description.strip()
    sentence = sentence[0].upper() + sentence[1:]
    return sentence if sentence.endswith((".", "!", "?", "…")) else sentence + "."


def failure_message(
    test: TestCase, actual: str, difference: Difference | None, language: Language
) -> str:
    """Why a visible test's output does not match, in the words of its comparison mode."""
    if normalize(actual) == "" and normalize(test.expected) != "":
        return f"Ton programme n'a rien affiché. As-tu oublié `{_PRINT[language]}` ?"
    if difference is not None:
        where = f"ligne {difference.line}, colonne {difference.column}"
        folded = test.compare is CompareMode.IGNORE_CASE
        case = " (les majuscules ne comptent pas)" if folded else ""
        return f"Ta sortie n'est pas celle attendue{case} : première différence {where}."
    return _mode_message(test, actual)


def _mode_message(test: TestCase, actual: str) -> str:
    if test.compare is CompareMode.IGNORE_WHITESPACE:
        return (
            "Ta sortie ne contient pas les mots attendus dans l'ordre (les espaces et les retours "
            "à la ligne ne comptent pas)."
        )
    if test.compare is CompareMode.CONTAINS:
        return "Ta sortie ne contient pas le texte attendu."
    if test.compare is CompareMode.REGEX:
        return "Ta sortie n'a pas la forme attendue."
    if test.compare is CompareMode.NUMBERS:
        return _numbers_message(test, actual)
    return "Ta sortie n'est pas celle attendue."


def _numbers_message(test: TestCase, actual: str) -> str:
    mismatch = first_number_mismatch(test.expected, actual, test.tolerance)
    if mismatch is None:
        return "Ta sortie n'est pas celle attendue."
    want, got = mismatch
    if not got:
        return f"Il manque une valeur : on attendait encore `{want}`."
    if not want:
        return f"Ton programme affiche une valeur en trop : `{got}`."
    return f"On attendait `{want}`, mais ton programme affiche `{got}`."


def verdict(passed: int, total: int) -> str:
    if passed == total:
        every = "Le test est réussi" if total == 1 else f"Les {total} tests sont réussis"
        return f"Bravo ! {every}."
    return (
        f"{count(passed, 'test', 'réussi')} sur {total}. Lis le premier test en échec, corrige "
        "ton code et relance !"
    )


def stopped_verdict(passed: int, total: int) -> str:
    return f"Exécution arrêtée : {count(passed, 'test', 'réussi')} sur {total} avant l'arrêt."
