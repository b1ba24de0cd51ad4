"""French explanations of errors, on tracebacks captured from real python3 and node runs.

The stderr texts below were produced by running each ``code`` with ``python3`` (CPython 3.11)
on the host and with ``node`` (v18, inside the decode-runner-javascript image), the file being
``/tmp/main.py`` or ``/tmp/main.js`` as in the sandbox.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from runner.feedback import Explanation, explain, outcome_message
from runner.feedback.outcomes import seconds, size
from runner.feedback.suggest import closest, identifiers
from runner.sandbox.models import Language, Limits, Outcome


class Case(NamedTuple):
    id: str
    language: Language
    code: str
    stderr: str
    title: str
    line: int | None
    original: str


CASES: list[Case] = [
    Case(
        "py-syntax-paren",
        Language.PYTHON,
        'nom = input()\nprint("Bonjour", nom\n',
        '  File "/tmp/main.py", line 2\n    print("Bonjour", nom\n         ^\nSyntaxError: \'(\' was never closed\n',
        "Un « ( » n'est jamais refermé",
        2,
        "SyntaxError: '(' was never closed",
    ),
    Case(
        "py-syntax-colon",
        Language.PYTHON,
        'n = int(input())\nif n > 0\n    print("positif")\n',
        "  File \"/tmp/main.py\", line 2\n    if n > 0\n            ^\nSyntaxError: expected ':'\n",
        "Il manque les deux-points « : »",
        2,
        "SyntaxError: expected ':'",
    ),
    Case(
        "py-syntax-string",
        Language.PYTHON,
        'print("Bonjour)\n',
        '  File "/tmp/main.py", line 1\n    print("Bonjour)\n          ^\nSyntaxError: unterminated string literal (detected at line 1)\n',
        "Un texte n'est pas fermé",
        1,
        "SyntaxError: unterminated string literal (detected at line 1)",
    ),
    Case(
        "py-syntax-eq",
        Language.PYTHON,
        "n = 3\nif n = 3:\n    print(n)\n",
        "  File \"/tmp/main.py\", line 2\n    if n = 3:\n       ^^^^^\nSyntaxError: invalid syntax. Maybe you meant '==' or ':=' instead of '='?\n",
        "« = » au lieu de « == »",
        2,
        "SyntaxError: invalid syntax. Maybe you meant '==' or ':=' instead of '='?",
    ),
    Case(
        "py-syntax-comma",
        Language.PYTHON,
        'print("a" "b" 3)\n',
        '  File "/tmp/main.py", line 1\n    print("a" "b" 3)\n          ^^^^^^^^^\nSyntaxError: invalid syntax. Perhaps you forgot a comma?\n',
        "Une virgule oubliée ?",
        1,
        "SyntaxError: invalid syntax. Perhaps you forgot a comma?",
    ),
    Case(
        "py-syntax-generic",
        Language.PYTHON,
        "x = = 3\n",
        '  File "/tmp/main.py", line 1\n    x = = 3\n        ^\nSyntaxError: invalid syntax\n',
        "Erreur de syntaxe",
        1,
        "SyntaxError: invalid syntax",
    ),
    Case(
        "py-syntax-unmatched",
        Language.PYTHON,
        "print(3))\n",
        "  File \"/tmp/main.py\", line 1\n    print(3))\n            ^\nSyntaxError: unmatched ')'\n",
        "Un « ) » en trop",
        1,
        "SyntaxError: unmatched ')'",
    ),
    Case(
        "py-indent-expected",
        Language.PYTHON,
        "for i in range(3):\nprint(i)\n",
        "  File \"/tmp/main.py\", line 2\n    print(i)\n    ^\nIndentationError: expected an indented block after 'for' statement on line 1\n",
        "Il manque un décalage",
        2,
        "IndentationError: expected an indented block after 'for' statement on line 1",
    ),
    Case(
        "py-indent-unexpected",
        Language.PYTHON,
        "x = 1\n    print(x)\n",
        '  File "/tmp/main.py", line 2\n    print(x)\nIndentationError: unexpected indent\n',
        "Décalage inattendu",
        2,
        "IndentationError: unexpected indent",
    ),
    Case(
        "py-indent-unindent",
        Language.PYTHON,
        "if True:\n        x = 1\n    print(x)\n",
        '  File "/tmp/main.py", line 3\n    print(x)\n            ^\nIndentationError: unindent does not match any outer indentation level\n',
        "Alignement incohérent",
        3,
        "IndentationError: unindent does not match any outer indentation level",
    ),
    Case(
        "py-name",
        Language.PYTHON,
        'nom = input()\nprint("Bonjour", nmo)\n',
        'Traceback (most recent call last):\n  File "/tmp/main.py", line 2, in <module>\n    print("Bonjour", nmo)\n                     ^^^\nNameError: name \'nmo\' is not defined\n',
        "Nom inconnu : « nmo »",
        2,
        "NameError: name 'nmo' is not defined",
    ),
    Case(
        "py-name-nosugg",
        Language.PYTHON,
        "print(bonjour)\n",
        "Traceback (most recent call last):\n  File \"/tmp/main.py\", line 1, in <module>\n    print(bonjour)\n          ^^^^^^^\nNameError: name 'bonjour' is not defined\n",
        "Nom inconnu : « bonjour »",
        1,
        "NameError: name 'bonjour' is not defined",
    ),
    Case(
        "py-type-concat",
        Language.PYTHON,
        'age = 12\nprint("Tu as " + age + " ans")\n',
        'Traceback (most recent call last):\n  File "/tmp/main.py", line 2, in <module>\n    print("Tu as " + age + " ans")\n          ~~~~~~~~~^~~~~\nTypeError: can only concatenate str (not "int") to str\n',
        "Texte + nombre : impossible",
        2,
        'TypeError: can only concatenate str (not "int") to str',
    ),
    Case(
        "py-type-operand",
        Language.PYTHON,
        "n = input()\nprint(n * 2 + 1)\n",
        'Traceback (most recent call last):\n  File "/tmp/main.py", line 2, in <module>\n    print(n * 2 + 1)\n          ~~~~~~^~~\nTypeError: can only concatenate str (not "int") to str\n',
        "Texte + nombre : impossible",
        2,
        'TypeError: can only concatenate str (not "int") to str',
    ),
    Case(
        "py-type-compare",
        Language.PYTHON,
        'n = input()\nif n > 3:\n    print("grand")\n',
        "Traceback (most recent call last):\n  File \"/tmp/main.py\", line 2, in <module>\n    if n > 3:\n       ^^^^^\nTypeError: '>' not supported between instances of 'str' and 'int'\n",
        "Comparaison impossible",
        2,
        "TypeError: '>' not supported between instances of 'str' and 'int'",
    ),
    Case(
        "py-type-args",
        Language.PYTHON,
        "def f(a):\n    return a\nprint(f(1, 2))\n",
        'Traceback (most recent call last):\n  File "/tmp/main.py", line 3, in <module>\n    print(f(1, 2))\n          ^^^^^^^\nTypeError: f() takes 1 positional argument but 2 were given\n',
        "Trop de valeurs pour « f »",
        3,
        "TypeError: f() takes 1 positional argument but 2 were given",
    ),
    Case(
        "py-type-missing",
        Language.PYTHON,
        "def f(a, b):\n    return a + b\nprint(f(1))\n",
        "Traceback (most recent call last):\n  File \"/tmp/main.py\", line 3, in <module>\n    print(f(1))\n          ^^^^\nTypeError: f() missing 1 required positional argument: 'b'\n",
        "Valeur manquante pour « f »",
        3,
        "TypeError: f() missing 1 required positional argument: 'b'",
    ),
    Case(
        "py-type-len",
        Language.PYTHON,
        "print(len(5))\n",
        "Traceback (most recent call last):\n  File \"/tmp/main.py\", line 1, in <module>\n    print(len(5))\n          ^^^^^^\nTypeError: object of type 'int' has no len()\n",
        "« len » ne s'applique pas ici",
        1,
        "TypeError: object of type 'int' has no len()",
    ),
    Case(
        "py-type-callable",
        Language.PYTHON,
        "print = 3\nprint(4)\n",
        "Traceback (most recent call last):\n  File \"/tmp/main.py\", line 2, in <module>\n    print(4)\nTypeError: 'int' object is not callable\n",
        "Ce n'est pas une fonction",
        2,
        "TypeError: 'int' object is not callable",
    ),
    Case(
        "py-zero",
        Language.PYTHON,
        "a = 10\nb = 0\nprint(a / b)\n",
        'Traceback (most recent call last):\n  File "/tmp/main.py", line 3, in <module>\n    print(a / b)\n          ~~^~~\nZeroDivisionError: division by zero\n',
        "Division par zéro",
        3,
        "ZeroDivisionError: division by zero",
    ),
    Case(
        "py-zero-mod",
        Language.PYTHON,
        "a = 10\nb = 0\nprint(a % b)\n",
        'Traceback (most recent call last):\n  File "/tmp/main.py", line 3, in <module>\n    print(a % b)\n          ~~^~~\nZeroDivisionError: integer modulo by zero\n',
        "Division par zéro",
        3,
        "ZeroDivisionError: integer modulo by zero",
    ),
    Case(
        "py-index",
        Language.PYTHON,
        "notes = [12, 15]\nprint(notes[2])\n",
        'Traceback (most recent call last):\n  File "/tmp/main.py", line 2, in <module>\n    print(notes[2])\n          ~~~~~^^^\nIndexError: list index out of range\n',
        "Position hors de la liste",
        2,
        "IndexError: list index out of range",
    ),
    Case(
        "py-index-str",
        Language.PYTHON,
        'mot = "abc"\nprint(mot[5])\n',
        'Traceback (most recent call last):\n  File "/tmp/main.py", line 2, in <module>\n    print(mot[5])\n          ~~~^^^\nIndexError: string index out of range\n',
        "Position hors du texte",
        2,
        "IndexError: string index out of range",
    ),
    Case(
        "py-key",
        Language.PYTHON,
        'ages = {"léa": 12}\nprint(ages["tom"])\n',
        'Traceback (most recent call last):\n  File "/tmp/main.py", line 2, in <module>\n    print(ages["tom"])\n          ~~~~^^^^^^^\nKeyError: \'tom\'\n',
        "Clé absente : 'tom'",
        2,
        "KeyError: 'tom'",
    ),
    Case(
        "py-value-int",
        Language.PYTHON,
        "n = int(input())\nprint(n)\n",
        "Traceback (most recent call last):\n  File \"/tmp/main.py\", line 1, in <module>\n    n = int(input())\n        ^^^^^^^^^^^^\nValueError: invalid literal for int() with base 10: 'abc'\n",
        "Ce texte n'est pas un nombre entier",
        1,
        "ValueError: invalid literal for int() with base 10: 'abc'",
    ),
    Case(
        "py-value-float",
        Language.PYTHON,
        "n = float(input())\nprint(n)\n",
        "Traceback (most recent call last):\n  File \"/tmp/main.py\", line 1, in <module>\n    n = float(input())\n        ^^^^^^^^^^^^^^\nValueError: could not convert string to float: 'douze'\n",
        "Ce texte n'est pas un nombre",
        1,
        "ValueError: could not convert string to float: 'douze'",
    ),
    Case(
        "py-eof",
        Language.PYTHON,
        "a = input()\nb = input()\nprint(a, b)\n",
        'Traceback (most recent call last):\n  File "/tmp/main.py", line 2, in <module>\n    b = input()\n        ^^^^^^^\nEOFError: EOF when reading a line\n',
        "Plus rien à lire",
        2,
        "EOFError: EOF when reading a line",
    ),
    Case(
        "py-recursion",
        Language.PYTHON,
        "def f(n):\n    return f(n + 1)\n\nprint(f(0))\n",
        'Traceback (most recent call last):\n  File "/tmp/main.py", line 4, in <module>\n    print(f(0))\n          ^^^^\n  File "/tmp/main.py", line 2, in f\n    return f(n + 1)\n           ^^^^^^^^\n  File "/tmp/main.py", line 2, in f\n    return f(n + 1)\n           ^^^^^^^^\n  File "/tmp/main.py", line 2, in f\n    return f(n + 1)\n           ^^^^^^^^\n  [Previous line repeated 996 more times]\nRecursionError: maximum recursion depth exceeded\n',
        "Une fonction s'appelle sans fin",
        2,
        "RecursionError: maximum recursion depth exceeded",
    ),
    Case(
        "py-attribute",
        Language.PYTHON,
        "liste = [1, 2]\nliste.push(3)\n",
        "Traceback (most recent call last):\n  File \"/tmp/main.py\", line 2, in <module>\n    liste.push(3)\n    ^^^^^^^^^^\nAttributeError: 'list' object has no attribute 'push'\n",
        "« push » n'existe pas ici",
        2,
        "AttributeError: 'list' object has no attribute 'push'",
    ),
    Case(
        "py-attribute-str",
        Language.PYTHON,
        'mot = "abc"\nmot.apend("d")\n',
        "Traceback (most recent call last):\n  File \"/tmp/main.py\", line 2, in <module>\n    mot.apend(\"d\")\n    ^^^^^^^^^\nAttributeError: 'str' object has no attribute 'apend'\n",
        "« apend » n'existe pas ici",
        2,
        "AttributeError: 'str' object has no attribute 'apend'",
    ),
    Case(
        "py-module",
        Language.PYTHON,
        "import pygame\npygame.init()\n",
        "Traceback (most recent call last):\n  File \"/tmp/main.py\", line 1, in <module>\n    import pygame\nModuleNotFoundError: No module named 'pygame'\n",
        "Module introuvable : « pygame »",
        1,
        "ModuleNotFoundError: No module named 'pygame'",
    ),
    Case(
        "py-nested",
        Language.PYTHON,
        "def moyenne(notes):\n    return sum(notes) / len(notes)\n\nprint(moyenne([]))\n",
        'Traceback (most recent call last):\n  File "/tmp/main.py", line 4, in <module>\n    print(moyenne([]))\n          ^^^^^^^^^^^\n  File "/tmp/main.py", line 2, in moyenne\n    return sum(notes) / len(notes)\n           ~~~~~~~~~~~^~~~~~~~~~~~\nZeroDivisionError: division by zero\n',
        "Division par zéro",
        2,
        "ZeroDivisionError: division by zero",
    ),
    Case(
        "py-stdlib",
        Language.PYTHON,
        'import json\njson.loads("{")\n',
        'Traceback (most recent call last):\n  File "/tmp/main.py", line 2, in <module>\n    json.loads("{")\n  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads\n    return _default_decoder.decode(s)\n           ^^^^^^^^^^^^^^^^^^^^^^^^^^\n  File "/usr/lib/python3.11/json/decoder.py", line 337, in decode\n    obj, end = self.raw_decode(s, idx=_w(s, 0).end())\n               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n  File "/usr/lib/python3.11/json/decoder.py", line 353, in raw_decode\n    obj, end = self.scan_once(s, idx)\n               ^^^^^^^^^^^^^^^^^^^^^^\njson.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)\n',
        "Erreur « JSONDecodeError »",
        2,
        "json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    ),
    Case(
        "py-tab",
        Language.PYTHON,
        "if True:\n\tx = 1\n        print(x)\n",
        '  File "/tmp/main.py", line 3\n    print(x)\nTabError: inconsistent use of tabs and spaces in indentation\n',
        "Tabulations et espaces mélangés",
        3,
        "TabError: inconsistent use of tabs and spaces in indentation",
    ),
    Case(
        "js-syntax-token",
        Language.JAVASCRIPT,
        'const n = 3;\nif (n > 2 {\n  console.log("grand");\n}\n',
        "/tmp/main.js:2\nif (n > 2 {\n          ^\n\nSyntaxError: Unexpected token '{'\n    at internalCompileFunction (node:internal/vm:76:18)\n    at wrapSafe (node:internal/modules/cjs/loader:1283:20)\n    at Module._compile (node:internal/modules/cjs/loader:1328:27)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n",
        "Symbole inattendu : « { »",
        2,
        "SyntaxError: Unexpected token '{'",
    ),
    Case(
        "js-syntax-paren",
        Language.JAVASCRIPT,
        'const nom = "Léa";\nconsole.log("Bonjour " + nom;\n',
        '/tmp/main.js:2\nconsole.log("Bonjour " + nom;\n                         ^^^\n\nSyntaxError: missing ) after argument list\n    at internalCompileFunction (node:internal/vm:76:18)\n    at wrapSafe (node:internal/modules/cjs/loader:1283:20)\n    at Module._compile (node:internal/modules/cjs/loader:1328:27)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n',
        "Il manque « ) », ou une virgule",
        2,
        "SyntaxError: missing ) after argument list",
    ),
    Case(
        "js-syntax-end",
        Language.JAVASCRIPT,
        "function f() {\n  return 1;\n\nconsole.log(f());\n",
        "/tmp/main.js:5\n\n\n\nSyntaxError: Unexpected end of input\n    at internalCompileFunction (node:internal/vm:76:18)\n    at wrapSafe (node:internal/modules/cjs/loader:1283:20)\n    at Module._compile (node:internal/modules/cjs/loader:1328:27)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n",
        "Le programme s'arrête trop tôt",
        5,
        "SyntaxError: Unexpected end of input",
    ),
    Case(
        "js-syntax-string",
        Language.JAVASCRIPT,
        'console.log("Bonjour);\n',
        '/tmp/main.js:1\nconsole.log("Bonjour);\n            ^^^^^^^^^^\n\nSyntaxError: Invalid or unexpected token\n    at internalCompileFunction (node:internal/vm:76:18)\n    at wrapSafe (node:internal/modules/cjs/loader:1283:20)\n    at Module._compile (node:internal/modules/cjs/loader:1328:27)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n',
        "Caractère inattendu",
        1,
        "SyntaxError: Invalid or unexpected token",
    ),
    Case(
        "js-syntax-redeclare",
        Language.JAVASCRIPT,
        "let x = 1;\nlet x = 2;\nconsole.log(x);\n",
        "/tmp/main.js:2\nlet x = 2;\n    ^\n\nSyntaxError: Identifier 'x' has already been declared\n    at internalCompileFunction (node:internal/vm:76:18)\n    at wrapSafe (node:internal/modules/cjs/loader:1283:20)\n    at Module._compile (node:internal/modules/cjs/loader:1328:27)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n",
        "« x » est déjà déclarée",
        2,
        "SyntaxError: Identifier 'x' has already been declared",
    ),
    Case(
        "js-reference",
        Language.JAVASCRIPT,
        'const nom = "Léa";\nconsole.log("Bonjour " + nmo);\n',
        '/tmp/main.js:2\nconsole.log("Bonjour " + nmo);\n                         ^\n\nReferenceError: nmo is not defined\n    at Object.<anonymous> (/tmp/main.js:2:26)\n    at Module._compile (node:internal/modules/cjs/loader:1364:14)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n',
        "Nom inconnu : « nmo »",
        2,
        "ReferenceError: nmo is not defined",
    ),
    Case(
        "js-not-function",
        Language.JAVASCRIPT,
        'const mot = "abc";\nconsole.log(mot.push("d"));\n',
        '/tmp/main.js:2\nconsole.log(mot.push("d"));\n                ^\n\nTypeError: mot.push is not a function\n    at Object.<anonymous> (/tmp/main.js:2:17)\n    at Module._compile (node:internal/modules/cjs/loader:1364:14)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n',
        "« mot.push » n'est pas une fonction",
        2,
        "TypeError: mot.push is not a function",
    ),
    Case(
        "js-undefined-prop",
        Language.JAVASCRIPT,
        "const lignes = [];\nconsole.log(lignes[0].length);\n",
        "/tmp/main.js:2\nconsole.log(lignes[0].length);\n                      ^\n\nTypeError: Cannot read properties of undefined (reading 'length')\n    at Object.<anonymous> (/tmp/main.js:2:23)\n    at Module._compile (node:internal/modules/cjs/loader:1364:14)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n",
        "Valeur « undefined »",
        2,
        "TypeError: Cannot read properties of undefined (reading 'length')",
    ),
    Case(
        "js-null-prop",
        Language.JAVASCRIPT,
        "let x = null;\nconsole.log(x.length);\n",
        "/tmp/main.js:2\nconsole.log(x.length);\n              ^\n\nTypeError: Cannot read properties of null (reading 'length')\n    at Object.<anonymous> (/tmp/main.js:2:15)\n    at Module._compile (node:internal/modules/cjs/loader:1364:14)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n",
        "Valeur « null »",
        2,
        "TypeError: Cannot read properties of null (reading 'length')",
    ),
    Case(
        "js-const-assign",
        Language.JAVASCRIPT,
        "const n = 1;\nn = 2;\nconsole.log(n);\n",
        "/tmp/main.js:2\nn = 2;\n  ^\n\nTypeError: Assignment to constant variable.\n    at Object.<anonymous> (/tmp/main.js:2:3)\n    at Module._compile (node:internal/modules/cjs/loader:1364:14)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n",
        "Une constante ne change pas",
        2,
        "TypeError: Assignment to constant variable.",
    ),
    Case(
        "js-range-stack",
        Language.JAVASCRIPT,
        "function f(n) {\n  return f(n + 1);\n}\nconsole.log(f(0));\n",
        "/tmp/main.js:2\n  return f(n + 1);\n  ^\n\nRangeError: Maximum call stack size exceeded\n    at f (/tmp/main.js:2:3)\n    at f (/tmp/main.js:2:10)\n    at f (/tmp/main.js:2:10)\n    at f (/tmp/main.js:2:10)\n    at f (/tmp/main.js:2:10)\n    at f (/tmp/main.js:2:10)\n    at f (/tmp/main.js:2:10)\n    at f (/tmp/main.js:2:10)\n    at f (/tmp/main.js:2:10)\n    at f (/tmp/main.js:2:10)\n\nNode.js v18.20.4\n",
        "Une fonction s'appelle sans fin",
        2,
        "RangeError: Maximum call stack size exceeded",
    ),
    Case(
        "js-range-array",
        Language.JAVASCRIPT,
        "const t = new Array(-1);\n",
        "/tmp/main.js:1\nconst t = new Array(-1);\n          ^\n\nRangeError: Invalid array length\n    at Object.<anonymous> (/tmp/main.js:1:11)\n    at Module._compile (node:internal/modules/cjs/loader:1364:14)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n",
        "Longueur de tableau impossible",
        1,
        "RangeError: Invalid array length",
    ),
    Case(
        "js-nested",
        Language.JAVASCRIPT,
        "function moyenne(notes) {\n  return notes.reduce((a, b) => a + b) / notes.length;\n}\nconsole.log(moyenne([]));\n",
        "/tmp/main.js:2\n  return notes.reduce((a, b) => a + b) / notes.length;\n               ^\n\nTypeError: Reduce of empty array with no initial value\n    at Array.reduce (<anonymous>)\n    at moyenne (/tmp/main.js:2:16)\n    at Object.<anonymous> (/tmp/main.js:4:13)\n    at Module._compile (node:internal/modules/cjs/loader:1364:14)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n",
        "Tableau vide",
        2,
        "TypeError: Reduce of empty array with no initial value",
    ),
    Case(
        "js-json",
        Language.JAVASCRIPT,
        'const data = JSON.parse("{");\n',
        "undefined:1\n{\n\nSyntaxError: Unexpected end of JSON input\n    at JSON.parse (<anonymous>)\n    at Object.<anonymous> (/tmp/main.js:1:19)\n    at Module._compile (node:internal/modules/cjs/loader:1364:14)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n",
        "Texte JSON invalide",
        1,
        "SyntaxError: Unexpected end of JSON input",
    ),
    Case(
        "js-thrown",
        Language.JAVASCRIPT,
        'throw new Error("oups");\n',
        '/tmp/main.js:1\nthrow new Error("oups");\n^\n\nError: oups\n    at Object.<anonymous> (/tmp/main.js:1:7)\n    at Module._compile (node:internal/modules/cjs/loader:1364:14)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n',
        "Erreur « Error »",
        1,
        "Error: oups",
    ),
    Case(
        "js-module",
        Language.JAVASCRIPT,
        'const _ = require("lodash");\n',
        "node:internal/modules/cjs/loader:1143\n  throw err;\n  ^\n\nError: Cannot find module 'lodash'\nRequire stack:\n- /tmp/main.js\n    at Module._resolveFilename (node:internal/modules/cjs/loader:1140:15)\n    at Module._load (node:internal/modules/cjs/loader:981:27)\n    at Module.require (node:internal/modules/cjs/loader:1231:19)\n    at require (node:internal/modules/helpers:177:18)\n    at Object.<anonymous> (/tmp/main.js:1:11)\n    at Module._compile (node:internal/modules/cjs/loader:1364:14)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12) {\n  code: 'MODULE_NOT_FOUND',\n  requireStack: [ '/tmp/main.js' ]\n}\n\nNode.js v18.20.4\n",
        "Module introuvable : « lodash »",
        1,
        "Error: Cannot find module 'lodash'",
    ),
    Case(
        "js-unexpected-identifier",
        Language.JAVASCRIPT,
        'const a = 1\nconsole.log("a" a);\n',
        '/tmp/main.js:2\nconsole.log("a" a);\n            ^^^\n\nSyntaxError: missing ) after argument list\n    at internalCompileFunction (node:internal/vm:76:18)\n    at wrapSafe (node:internal/modules/cjs/loader:1283:20)\n    at Module._compile (node:internal/modules/cjs/loader:1328:27)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n',
        "Il manque « ) », ou une virgule",
        2,
        "SyntaxError: missing ) after argument list",
    ),
    Case(
        "js-before-init",
        Language.JAVASCRIPT,
        "console.log(x);\nlet x = 3;\n",
        "/tmp/main.js:1\nconsole.log(x);\n            ^\n\nReferenceError: Cannot access 'x' before initialization\n    at Object.<anonymous> (/tmp/main.js:1:13)\n    at Module._compile (node:internal/modules/cjs/loader:1364:14)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n",
        "« x » est utilisée trop tôt",
        1,
        "ReferenceError: Cannot access 'x' before initialization",
    ),
]

BY_ID = {case.id: case for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_explain_captured_error(case: Case) -> None:
    explanation = explain(case.language, case.stderr, case.code)
    assert explanation is not None
    assert (explanation.title, explanation.line, explanation.original) == (
        case.title,
        case.line,
        case.original,
    )
    assert explanation.text.endswith((".", "?", "!")), explanation.text


def _explain(case_id: str) -> Explanation:
    case = BY_ID[case_id]
    explanation = explain(case.language, case.stderr, case.code)
    assert explanation is not None
    return explanation


def test_python_name_error_suggests_a_name_from_the_code() -> None:
    assert _explain("py-name") == Explanation(
        title="Nom inconnu : « nmo »",
        text="Python ne connaît pas `nmo` à la ligne 2. Soit tu l'utilises avant de lui avoir "
        "donné une valeur, soit son nom est mal écrit (les majuscules comptent). Tu voulais "
        "peut-être dire `nom` ?",
        line=2,
        original="NameError: name 'nmo' is not defined",
    )


def test_python_name_error_without_close_name_suggests_quotes() -> None:
    assert _explain("py-name-nosugg").text.endswith(
        'Si tu voulais écrire le texte « bonjour », mets-le entre guillemets : `"bonjour"`.'
    )


def test_python_own_suggestion_is_used_first() -> None:
    stderr = (
        "Traceback (most recent call last):\n"
        '  File "/tmp/main.py", line 2, in <module>\n'
        "    print(prenon)\n"
        "          ^^^^^^\n"
        "NameError: name 'prenon' is not defined. Did you mean: 'prenom'?\n"
    )
    explanation = explain(Language.PYTHON, stderr, "")
    assert explanation is not None
    assert explanation.text.endswith(" Tu voulais peut-être dire `prenom` ?")
    assert explanation.title == "Nom inconnu : « prenon »"


def test_python_attribute_error_points_to_the_python_method() -> None:
    assert _explain("py-attribute").text == (
        "`.push` n'existe pas pour une liste (`list`) à la ligne 2. Vérifie l'orthographe du "
        "nom. En Python, on utilise plutôt `append`."
    )


def test_python_line_is_the_last_frame_of_the_learner_file_not_the_stdlib() -> None:
    assert "/usr/lib/python3.11/json/decoder.py" in BY_ID["py-stdlib"].stderr
    assert _explain("py-stdlib").line == 2
    assert _explain("py-nested").line == 2  # inside moyenne(), not the call on line 4
    assert _explain("py-recursion").line == 2


def test_javascript_line_is_the_innermost_frame_of_the_learner_file() -> None:
    assert "at moyenne (/tmp/main.js:2:16)" in BY_ID["js-nested"].stderr
    assert _explain("js-nested").line == 2
    assert _explain("js-json").line == 1  # JSON.parse's own frame is skipped
    assert _explain("js-module").line == 1  # node:internal frames are skipped


def test_javascript_reference_error_suggests_a_name_from_the_code() -> None:
    assert _explain("js-reference").text == (
        "JavaScript ne connaît pas `nmo` à la ligne 2. Soit tu ne l'as pas déclarée avec `let` "
        "ou `const`, soit son nom est mal écrit (les majuscules comptent). Tu voulais "
        "peut-être dire `nom` ?"
    )


def test_javascript_suggests_builtins_too() -> None:
    stderr = (
        "/tmp/main.js:1\nconsol.log(1);\n^\n\nReferenceError: consol is not defined\n"
        "    at Object.<anonymous> (/tmp/main.js:1:1)\n"
    )
    explanation = explain(Language.JAVASCRIPT, stderr, "consol.log(1);\n")
    assert explanation is not None
    assert explanation.text.endswith(" Tu voulais peut-être dire `console` ?")


def test_javascript_unknown_name_without_close_name_suggests_the_same_quotes() -> None:
    stderr = (
        "/tmp/main.js:1\nconsole.log(bonjour);\n            ^\n\n"
        "ReferenceError: bonjour is not defined\n    at Object.<anonymous> (/tmp/main.js:1:13)\n"
    )
    explanation = explain(Language.JAVASCRIPT, stderr, "console.log(bonjour);\n")
    assert explanation is not None
    assert explanation.text.endswith(
        'Si tu voulais écrire le texte « bonjour », mets-le entre guillemets : `"bonjour"`.'
    )


def test_unknown_errors_get_a_kind_generic_explanation() -> None:
    assert _explain("js-thrown") == Explanation(
        title="Erreur « Error »",
        text="Ton programme s'est arrêté sur une erreur `Error` à la ligne 1. Le message "
        "d'origine, ci-dessous, dit ce qui s'est passé.",
        line=1,
        original="Error: oups",
    )
    python = explain(Language.PYTHON, "Traceback (most recent call last):\nOupsError: x\n", "")
    assert python is not None and (python.title, python.line) == ("Erreur « OupsError »", None)
    assert python.text == (
        "Ton programme s'est arrêté sur une erreur `OupsError`. Le message d'origine, "
        "ci-dessous, dit ce qui s'est passé."
    )


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("stderr", ["", "attention : ceci n'est pas une erreur\n"])
def test_no_explanation_without_an_error(language: Language, stderr: str) -> None:
    assert explain(language, stderr, "print(1)") is None


def test_explanation_public() -> None:
    explanation = Explanation("Titre", "Texte.", 3, "NameError: x")
    assert explanation.public() == {
        "title": "Titre",
        "text": "Texte.",
        "line": 3,
        "original": "NameError: x",
    }


def test_identifiers_skip_strings_and_comments() -> None:
    code = 'nom = "Bonjour toi"  # commentaire\nprint(nom // 2)\n'
    assert identifiers(code, "#") == {"nom", "print"}
    assert closest("nmo", {"nom", "print"}) == "nom"
    assert closest("zzz", {"nom", "print"}) is None
    assert closest("nom", {"nom"}) is None


LIMITS = Limits(time_s=10.0, memory_mib=256, output_bytes=64 * 1024)


@pytest.mark.parametrize(
    ("outcome", "time_s", "message"),
    [
        (Outcome.OK, 10.0, "Ton programme s'est terminé normalement."),
        (Outcome.ERROR, 10.0, "Ton programme s'est arrêté sur une erreur."),
        (
            Outcome.TIMEOUT,
            10.0,
            "Ton programme a dépassé 10 s : y a-t-il une boucle infinie, ou un input() de "
            "trop, qui attend une ligne que le test ne donne pas ?",
        ),
        (
            Outcome.TIMEOUT,
            2.5,
            "Ton programme a dépassé 2,5 s : y a-t-il une boucle infinie, ou un input() de "
            "trop, qui attend une ligne que le test ne donne pas ?",
        ),
        (
            Outcome.MEMORY,
            10.0,
            "Ton programme a utilisé plus de 256 Mio de mémoire : une liste grandit-elle sans "
            "fin ?",
        ),
        (
            Outcome.OUTPUT_LIMIT,
            10.0,
            "Ton programme a affiché plus de 64 Kio : un print dans une boucle qui ne s'arrête "
            "pas ?",
        ),
        (Outcome.STOPPED, 10.0, "Exécution arrêtée."),
        (
            Outcome.UNAVAILABLE,
            10.0,
            "Le service d'exécution est momentanément indisponible. Ton code n'est pas en "
            "cause : réessaie dans quelques instants.",
        ),
    ],
)
def test_outcome_message(outcome: Outcome, time_s: float, message: str) -> None:
    assert outcome_message(outcome, LIMITS, time_s) == message


def test_french_units() -> None:
    assert [seconds(v) for v in (10.0, 2.5, 0.25, 30)] == ["10 s", "2,5 s", "0,25 s", "30 s"]
    assert [size(v) for v in (512, 64 * 1024, 1536, 1024 * 1024)] == [
        "512 octets",
        "64 Kio",
        "1,5 Kio",
        "1 Mio",
    ]


def test_outcome_messages_name_the_cause_for_the_language_and_mode() -> None:
    from runner.sandbox.models import Language

    js = outcome_message(Outcome.TIMEOUT, LIMITS, 10.0, Language.JAVASCRIPT)
    assert "prompt()" in js and "input()" not in js
    interactive = outcome_message(Outcome.TIMEOUT, LIMITS, 10.0, interactive=True)
    assert "boucle infinie" in interactive and "input()" not in interactive
    idle = outcome_message(Outcome.IDLE, Limits(idle_s=300.0), 10.0, interactive=True)
    assert idle == (
        "Ton programme attendait ta réponse depuis 5 min : il a été arrêté. "
        "Relance-le quand tu veux."
    )
    killed = outcome_message(Outcome.KILLED, LIMITS, 10.0)
    assert "SIGKILL" in killed and "Mio" not in killed.split("sans dépasser")[0]
