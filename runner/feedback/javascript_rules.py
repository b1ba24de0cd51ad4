"""French explanations of Node.js errors, most specific first (see rules.Rule for the templates)."""

from __future__ import annotations

from runner.feedback.rules import Rule

RULES: tuple[Rule, ...] = (
    # --- SyntaxError ------------------------------------------------------------
    Rule(
        "SyntaxError",
        r".* JSON .*",
        "Texte JSON invalide",
        "`JSON.parse` a reçu{where} un texte qui n'est pas du JSON valide.",
    ),
    Rule(
        "SyntaxError",
        r"missing \) after argument list",
        "Il manque « ) », ou une virgule",
        "Entre les parenthèses ouvertes{where}, JavaScript attendait la fin `)`. Soit la "
        "parenthèse fermante est oubliée, soit il manque une virgule `,` ou un `+` entre deux "
        'valeurs, comme dans `console.log("Bonjour " + nom);`.',
    ),
    Rule(
        "SyntaxError",
        r"Unexpected end of input",
        "Le programme s'arrête trop tôt",
        "Une accolade `{{` ou une parenthèse `(` n'est jamais refermée. Compte-les : il doit y "
        "avoir autant de `}}` que de `{{`, et autant de `)` que de `(`.",
    ),
    Rule(
        "SyntaxError",
        r"Invalid or unexpected token",
        "Caractère inattendu",
        "JavaScript trouve{where} un caractère qu'il ne comprend pas. Souvent, un texte n'est "
        'pas fermé (`"Bonjour` au lieu de `"Bonjour"`), ou des guillemets typographiques '
        "« » “ ” ’ viennent d'un copier-coller : utilise `\"` ou `'`.",
    ),
    Rule(
        "SyntaxError",
        r"Identifier '(?P<name>[\w$]+)' has already been declared",
        "« {name} » est déjà déclarée",
        "On ne déclare une variable qu'une fois avec `let` ou `const`. Pour changer sa valeur "
        "ensuite{where}, écris simplement `{name} = ...`.",
    ),
    Rule(
        "SyntaxError",
        r"Unexpected identifier.*",
        "Mot inattendu",
        "Deux éléments se suivent{where} sans rien entre eux. Manque-t-il une virgule, un `+` "
        "ou une parenthèse ?",
    ),
    Rule(
        "SyntaxError",
        r"Unexpected token '?(?P<token>[^']+)'?",
        "Symbole inattendu : « {token} »",
        "JavaScript ne s'attendait pas à trouver `{token}`{where}. Vérifie ce qui précède : "
        "souvent une parenthèse oubliée, comme dans `if (n > 2) {{`.",
    ),
    Rule(
        "SyntaxError",
        r".*",
        "Erreur de syntaxe",
        "JavaScript n'arrive pas à lire {the_line} : quelque chose n'est pas écrit comme "
        "il l'attend. Regarde autour de la flèche `^` : parenthèses, accolades, guillemets.",
    ),
    # --- Errors while running ---------------------------------------------------
    Rule(
        "ReferenceError",
        r"(?P<name>[\w$]+) is not defined",
        "Nom inconnu : « {name} »",
        "JavaScript ne connaît pas `{name}`{where}. Soit tu ne l'as pas déclarée avec `let` ou "
        "`const`, soit son nom est mal écrit (les majuscules comptent).",
    ),
    Rule(
        "ReferenceError",
        r"Cannot access '(?P<name>[\w$]+)' before initialization",
        "« {name} » est utilisée trop tôt",
        "Tu utilises `{name}`{where} avant la ligne qui la déclare. Déplace la déclaration "
        "`let {name} = ...` plus haut.",
    ),
    Rule(
        "TypeError",
        r"(?P<name>.+) is not a function",
        "« {name} » n'est pas une fonction",
        "Tu appelles `{name}(...)`{where} comme une fonction, mais ce n'en est pas une. "
        "Vérifie l'orthographe, et que cette méthode existe pour cette valeur (par exemple "
        "`push` existe pour un tableau, pas pour un texte).",
    ),
    Rule(
        "TypeError",
        r"Cannot (?:read|set) properties of (?P<value>undefined|null) \(\w+ '(?P<name>[^']+)'\)",
        "Valeur « {value} »",
        "Tu utilises `.{name}`{where} sur une valeur qui vaut `{value}` (elle n'existe pas). "
        "Souvent : un élément au-delà de la fin d'un tableau (`lignes[3]` alors qu'il n'y a "
        "que 3 lignes, numérotées de 0 à 2), ou une variable jamais remplie.",
    ),
    Rule(
        "TypeError",
        r"Assignment to constant variable\.",
        "Une constante ne change pas",
        "Tu changes{where} la valeur d'une variable déclarée avec `const`. Déclare-la avec "
        "`let` si sa valeur doit changer.",
    ),
    Rule(
        "TypeError",
        r"Reduce of empty array with no initial value",
        "Tableau vide",
        "`reduce` est appelé{where} sur un tableau vide sans valeur de départ. Donne-lui une "
        "valeur de départ, par exemple `tableau.reduce((a, b) => a + b, 0)`.",
    ),
    Rule(
        "TypeError",
        r".*",
        "Valeur du mauvais type",
        "Une opération{where} a reçu une valeur du mauvais type. `Number(...)` et "
        "`String(...)` convertissent une valeur.",
    ),
    Rule(
        "RangeError",
        r"Maximum call stack size exceeded",
        "Une fonction s'appelle sans fin",
        "Ta fonction s'appelle elle-même sans jamais s'arrêter{where}. Il lui faut un cas de "
        "base : un `if` qui renvoie une valeur sans s'appeler, et chaque appel doit s'en "
        "rapprocher.",
    ),
    Rule(
        "RangeError",
        r"Invalid array length",
        "Longueur de tableau impossible",
        "Tu crées{where} un tableau d'une longueur négative ou trop grande.",
    ),
    Rule(
        "RangeError",
        r".*",
        "Valeur hors limites",
        "Une valeur{where} sort des limites permises. Lis le message d'origine pour savoir "
        "laquelle.",
    ),
    Rule(
        "Error",
        r"Cannot find module '(?P<module>[^']+)'",
        "Module introuvable : « {module} »",
        "Le module `{module}`, importé{where}, n'existe pas ici. Vérifie son nom ; dans ce "
        "cours, seuls "
        "les modules fournis avec Node.js (comme `fs` ou `readline`) sont disponibles.",
    ),
)
