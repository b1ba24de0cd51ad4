"""A table-driven matcher from an error to a French title and text, and the shared fallbacks."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# French names of Python's built-in types, for messages such as "'str' and 'int'".
TYPE_NAMES: Mapping[str, str] = {
    "int": "un nombre entier (`int`)",
    "float": "un nombre à virgule (`float`)",
    "str": "un texte (`str`)",
    "list": "une liste (`list`)",
    "dict": "un dictionnaire (`dict`)",
    "tuple": "un tuple (`tuple`)",
    "bool": "un booléen (`bool`)",
    "NoneType": "`None` (aucune valeur)",
    "function": "une fonction",
    "builtin_function_or_method": "une fonction",
}


@dataclass(frozen=True)
class Rule:
    """Explains errors named ``error`` whose message fully matches ``pattern``.

    ``title`` and ``text`` are ``str.format`` templates over the pattern's named groups plus
    ``where`` (" à la ligne 3", or "" when the line is unknown) and ``the_line`` ("la ligne 3",
    or "la ligne en cause"). Groups whose
    name starts with ``type`` are replaced by their French name (``'str'`` → "un texte").
    """

    error: str
    pattern: str
    title: str
    text: str

    def apply(self, error: str, message: str, line: int | None) -> tuple[str, str] | None:
        if error != self.error:
            return None
        found = re.fullmatch(self.pattern, message, re.DOTALL)
        if found is None:
            return None
        fields = {
            key: TYPE_NAMES.get(value, f"`{value}`") if key.startswith("type") else value
            for key, value in found.groupdict(default="").items()
        }
        fields["where"] = f" à la ligne {line}" if line else ""
        fields["the_line"] = f"la ligne {line}" if line else "la ligne en cause"
        return self.title.format(**fields), self.text.format(**fields)


def first_match(
    rules: Sequence[Rule], error: str, message: str, line: int | None
) -> tuple[str, str] | None:
    """The title and text of the first rule that explains this error, if any."""
    for rule in rules:
        explained = rule.apply(error, message, line)
        if explained is not None:
            return explained
    return None


def fallback(error: str, line: int | None) -> tuple[str, str]:
    """The title and text for an error that no rule explains."""
    where = f" à la ligne {line}" if line else ""
    return (
        f"Erreur « {error} »",
        f"Ton programme s'est arrêté sur une erreur `{error}`{where}. Le message d'origine, "
        "ci-dessous, dit ce qui s'est passé.",
    )


def quote_hint(word: str) -> str:
    """For an unknown name that was probably meant as text."""
    return f' Si tu voulais écrire le texte « {word} », mets-le entre guillemets : `"{word}"`.'
