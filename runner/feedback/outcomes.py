"""French sentences for how a run ended when the program itself did not report an error."""

from __future__ import annotations

from runner.sandbox.models import Language, Limits, Outcome

_KIB = 1024
_MIB = 1024 * 1024


def seconds(value: float) -> str:
    """``10`` → "10 s", ``2.5`` → "2,5 s" (French decimal comma, at most two decimals)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") + " s"


def minutes(value_s: float) -> str:
    """``300`` → "5 min", ``90`` → "90 s"."""
    return f"{value_s / 60:g} min" if value_s >= 60 and value_s % 60 == 0 else seconds(value_s)


def size(value_bytes: int) -> str:
    """A size in French units: "64 Kio", "1 Mio", "512 octets"."""
    if value_bytes >= _MIB and value_bytes % _MIB == 0:
        return f"{value_bytes // _MIB} Mio"
    if value_bytes >= _KIB:
        return f"{value_bytes / _KIB:g} Kio".replace(".", ",")
    return f"{value_bytes} octets"


_ASK = {Language.PYTHON: "input()", Language.JAVASCRIPT: "prompt()"}


def outcome_message(
    outcome: Outcome,
    limits: Limits,
    time_s: float,
    language: Language = Language.PYTHON,
    interactive: bool = False,
) -> str:
    """What ``outcome`` means for the learner; ``time_s`` is the time limit that applied.

    ``interactive`` (mode "run"): waiting for the learner's answers does not count towards the
    limit there, so a timeout can only be a computation that does not end."""
    if outcome is Outcome.OK:
        return "Ton programme s'est terminé normalement."
    if outcome is Outcome.ERROR:
        return "Ton programme s'est arrêté sur une erreur."
    if outcome is Outcome.TIMEOUT and interactive:
        return (
            f"Ton programme a calculé pendant plus de {seconds(time_s)} sans s'arrêter : "
            "y a-t-il une boucle infinie ?"
        )
    if outcome is Outcome.TIMEOUT:
        return (
            f"Ton programme a dépassé {seconds(time_s)} : y a-t-il une boucle infinie, ou un "
            f"{_ASK[language]} de trop, qui attend une ligne que le test ne donne pas ?"
        )
    if outcome is Outcome.IDLE:
        return (
            f"Ton programme attendait ta réponse depuis {minutes(limits.idle_s)} : il a été "
            "arrêté. Relance-le quand tu veux."
        )
    if outcome is Outcome.MEMORY:
        return (
            f"Ton programme a utilisé plus de {limits.memory_mib} Mio de mémoire : une liste "
            "grandit-elle sans fin ?"
        )
    if outcome is Outcome.KILLED:
        return (
            "Ton programme a été arrêté net par un signal (SIGKILL), sans dépasser la mémoire : "
            "a-t-il arrêté lui-même un processus ?"
        )
    if outcome is Outcome.OUTPUT_LIMIT:
        return (
            f"Ton programme a affiché plus de {size(limits.output_bytes)} : un print dans une "
            "boucle qui ne s'arrête pas ?"
        )
    if outcome is Outcome.STOPPED:
        return "Exécution arrêtée."
    return (
        "Le service d'exécution est momentanément indisponible. Ton code n'est pas en cause : "
        "réessaie dans quelques instants."
    )
