"""French explanations of Python errors, most specific first (see rules.Rule for the templates)."""

from __future__ import annotations

from runner.feedback.rules import Rule

_BRACKETS = {"(": "parenthèse", "[": "crochet", "{": "accolade"}

RULES: tuple[Rule, ...] = (
    # --- SyntaxError ------------------------------------------------------------
    Rule(
        "SyntaxError",
        r"'(?P<open>[(\[{])' was never closed",
        "Un « {open} » n'est jamais refermé",
        "Tu as ouvert `{open}`{where} mais tu ne l'as jamais refermé. Ajoute le signe fermant "
        "qui manque (souvent à la fin de la ligne) : chaque `(` a besoin de son `)`, chaque `[` "
        "de son `]`.",
    ),
    Rule(
        "SyntaxError",
        r"expected ':'",
        "Il manque les deux-points « : »",
        "En Python, une ligne qui commence par `if`, `elif`, `else`, `for`, `while` ou `def` se "
        "termine par deux-points `:`. Ajoute `:` à la fin de {the_line}.",
    ),
    Rule(
        "SyntaxError",
        r"unterminated (?:triple-quoted )?string literal.*",
        "Un texte n'est pas fermé",
        "Un texte commence par un guillemet{where} mais ne se termine pas. Ferme-le avec le même "
        "guillemet qu'au début : `\"Bonjour\"` ou `'Bonjour'`.",
    ),
    Rule(
        "SyntaxError",
        r"invalid syntax\. Maybe you meant '==' or ':=' instead of '='\?",
        "« = » au lieu de « == »",
        "Pour comparer deux valeurs, on écrit `==` (deux signes égal), par exemple "
        "`if n == 3:`. Un seul `=` sert à ranger une valeur dans une variable.",
    ),
    Rule(
        "SyntaxError",
        r"invalid syntax\. Perhaps you forgot a comma\?",
        "Une virgule oubliée ?",
        "Python trouve deux valeurs côte à côte{where} sans rien entre elles. Sépare-les par "
        'une virgule, par exemple `print("Tu as", age, "ans")`, ou colle deux textes avec `+`.',
    ),
    Rule(
        "SyntaxError",
        r"unmatched '(?P<close>[)\]}])'",
        "Un « {close} » en trop",
        "Il y a{where} un `{close}` qui ne ferme rien. Compte les signes : il doit y avoir "
        "autant de fermants que d'ouvrants.",
    ),
    Rule(
        "SyntaxError",
        r"closing parenthesis '(?P<close>.)' does not match opening parenthesis '(?P<open>.)'.*",
        "« {open} » fermé par « {close} »",
        "Un `{open}` est refermé par un `{close}`{where}. Chaque signe ouvrant se ferme avec "
        "son partenaire : `(` avec `)`, `[` avec `]`, `{{` avec `}}`.",
    ),
    Rule(
        "SyntaxError",
        r"invalid character '(?P<char>.)' \(U\+[0-9A-F]+\)",
        "Caractère inconnu : « {char} »",
        "Le caractère `{char}`{where} n'a pas de sens en Python. Souvent, il vient d'un "
        "copier-coller : les guillemets du code sont les guillemets droits `\"` ou `'`, pas "
        "« », “ ” ou ’.",
    ),
    Rule(
        "SyntaxError",
        r".*",
        "Erreur de syntaxe",
        "Python n'arrive pas à lire {the_line} : quelque chose n'est pas écrit comme il "
        "l'attend. Regarde autour de la flèche `^` : parenthèses, guillemets, deux-points, "
        "virgules.",
    ),
    # --- IndentationError, TabError ---------------------------------------------
    Rule(
        "IndentationError",
        r"expected an indented block after .* on line (?P<header>\d+)",
        "Il manque un décalage",
        "La ligne {header} se termine par `:`, donc les lignes qui en dépendent doivent être "
        "décalées vers la droite (4 espaces). Décale {the_line}.",
    ),
    Rule(
        "IndentationError",
        r"unexpected indent",
        "Décalage inattendu",
        "Le début de {the_line} est décalé vers la droite alors que rien ne le demande. "
        "Aligne-le sur la ligne du dessus.",
    ),
    Rule(
        "IndentationError",
        r"unindent does not match any outer indentation level",
        "Alignement incohérent",
        "Le début de {the_line} n'est aligné sur aucun bloc au-dessus. Décale toujours du "
        "même nombre d'espaces : 4 par niveau.",
    ),
    Rule(
        "IndentationError",
        r".*",
        "Problème de décalage",
        "Le décalage (les espaces en début de ligne){where} ne correspond pas à ce que Python "
        "attend. Un bloc après `:` est décalé de 4 espaces ; ses lignes sont toutes alignées.",
    ),
    Rule(
        "TabError",
        r".*",
        "Tabulations et espaces mélangés",
        "Le décalage de {the_line} mélange tabulations et espaces. Utilise seulement des "
        "espaces (4 par niveau).",
    ),
    # --- Errors while running ---------------------------------------------------
    Rule(
        "NameError",
        r"name '(?P<name>\w+)' is not defined.*",
        "Nom inconnu : « {name} »",
        "Python ne connaît pas `{name}`{where}. Soit tu l'utilises avant de lui avoir donné une "
        "valeur, soit son nom est mal écrit (les majuscules comptent).",
    ),
    Rule(
        "TypeError",
        r'can only concatenate str \(not "(?P<type>\w+)"\) to str',
        "Texte + nombre : impossible",
        "On ne peut pas coller avec `+` un texte et {type}{where}. Transforme la valeur en "
        "texte avec `str(...)`, ou sépare les valeurs par des virgules dans `print`. Si un "
        "nombre vient de `input()`, c'est un texte : convertis-le avec `int(...)`.",
    ),
    Rule(
        "TypeError",
        r"unsupported operand type\(s\) for (?P<op>\S+): '(?P<type1>\w+)' and '(?P<type2>\w+)'",
        "Calcul impossible",
        "Python ne sait pas faire `{op}` entre {type1} et {type2}{where}. Si une valeur vient "
        "de `input()`, c'est un texte : convertis-la avec `int(...)` ou `float(...)`.",
    ),
    Rule(
        "TypeError",
        r"'(?P<op>\S+)' not supported between instances of '(?P<type1>\w+)' and '(?P<type2>\w+)'",
        "Comparaison impossible",
        "On ne peut pas comparer avec `{op}` {type1} et {type2}{where}. Si une valeur vient de "
        "`input()`, c'est un texte : convertis-la avec `int(...)`, par exemple "
        "`n = int(input())`.",
    ),
    Rule(
        "TypeError",
        r"(?P<function>\w+)\(\) takes (?P<wanted>\d+) positional arguments? but (?P<given>\d+) "
        r"(?:were|was) given",
        "Trop de valeurs pour « {function} »",
        "La fonction `{function}` attend {wanted} valeur(s) entre ses parenthèses, mais tu lui "
        "en donnes {given}{where}.",
    ),
    Rule(
        "TypeError",
        r"(?P<function>\w+)\(\) missing \d+ required positional arguments?: (?P<names>.+)",
        "Valeur manquante pour « {function} »",
        "La fonction `{function}` attend aussi une valeur pour {names}{where}. Donne-lui "
        "autant de valeurs qu'elle a de paramètres.",
    ),
    Rule(
        "TypeError",
        r"object of type '(?P<type>\w+)' has no len\(\)",
        "« len » ne s'applique pas ici",
        "`len(...)` donne la longueur d'un texte ou d'une liste, mais tu lui donnes {type}{where}.",
    ),
    Rule(
        "TypeError",
        r"'(?P<type>\w+)' object is not callable",
        "Ce n'est pas une fonction",
        "Tu mets des parenthèses après {type}{where} comme si c'était une fonction. As-tu donné "
        "à une variable le nom d'une fonction, par exemple `print = ...` ou `input = ...` ?",
    ),
    Rule(
        "TypeError",
        r"'(?P<type>\w+)' object is not subscriptable",
        "Pas de crochets ici",
        "Tu utilises des crochets `[...]` sur {type}{where}. Les crochets servent à prendre un "
        "élément d'une liste ou d'un texte.",
    ),
    Rule(
        "TypeError",
        r".*",
        "Valeur du mauvais type",
        "Une opération{where} a reçu une valeur du mauvais type, par exemple un texte là où il "
        "faut un nombre. `int(...)`, `float(...)` et `str(...)` convertissent une valeur.",
    ),
    Rule(
        "ZeroDivisionError",
        r".*",
        "Division par zéro",
        "Ton programme divise par zéro{where}, ce qui est impossible. Vérifie le diviseur "
        "avant de diviser, par exemple avec `if diviseur != 0:`.",
    ),
    Rule(
        "IndexError",
        r"string index out of range",
        "Position hors du texte",
        "Tu demandes{where} un caractère qui n'existe pas. Les positions commencent à 0 : "
        'dans `"abc"`, elles vont de 0 à 2. `len(texte)` donne la longueur.',
    ),
    Rule(
        "IndexError",
        r"pop from empty list",
        "Liste vide",
        "Tu retires un élément{where} d'une liste qui est déjà vide.",
    ),
    Rule(
        "IndexError",
        r".*",
        "Position hors de la liste",
        "Tu demandes{where} un élément qui n'existe pas. Les positions commencent à 0 : une "
        "liste de 3 éléments a les positions 0, 1 et 2. `len(liste)` donne sa longueur.",
    ),
    Rule(
        "KeyError",
        r"(?P<key>.+)",
        "Clé absente : {key}",
        "Le dictionnaire n'a pas de clé {key}{where}. Vérifie l'orthographe (majuscules "
        "comprises), ou teste d'abord avec `if cle in dictionnaire:`.",
    ),
    Rule(
        "ValueError",
        r"invalid literal for int\(\) with base 10: ''",
        "Rien à convertir en nombre",
        "`int(...)` a reçu un texte vide{where}. As-tu lu une ligne vide, ou une ligne de trop "
        "avec `input()` ?",
    ),
    Rule(
        "ValueError",
        r"invalid literal for int\(\) with base 10: (?P<value>.+)",
        "Ce texte n'est pas un nombre entier",
        "`int(...)` ne sait pas transformer {value} en nombre entier{where}. Vérifie ce que tu "
        "lis avec `input()`. Pour un nombre à virgule comme `3.5`, utilise `float(...)`.",
    ),
    Rule(
        "ValueError",
        r"could not convert string to float: (?P<value>.+)",
        "Ce texte n'est pas un nombre",
        "`float(...)` ne sait pas transformer {value} en nombre{where}. En Python, un nombre à "
        "virgule s'écrit avec un point : `3.5`, pas `3,5`.",
    ),
    Rule(
        "ValueError",
        r".*",
        "Valeur incorrecte",
        "Une fonction{where} a reçu une valeur du bon type mais qu'elle ne peut pas utiliser. "
        "Lis le message d'origine pour savoir laquelle.",
    ),
    Rule(
        "EOFError",
        r".*",
        "Plus rien à lire",
        "Ton programme appelle `input()`{where} alors qu'il n'y a plus de ligne à lire. "
        "Vérifie le nombre d'appels à `input()` : la consigne dit combien de lignes ton "
        "programme reçoit.",
    ),
    Rule(
        "RecursionError",
        r".*",
        "Une fonction s'appelle sans fin",
        "Ta fonction s'appelle elle-même sans jamais s'arrêter{where}. Il lui faut un cas de "
        "base : un `if` qui renvoie une valeur sans s'appeler, et chaque appel doit s'en "
        "rapprocher.",
    ),
    Rule(
        "AttributeError",
        r"'NoneType' object has no attribute '(?P<name>\w+)'.*",
        "La valeur est « None »",
        "Tu utilises `.{name}`{where} sur `None`, c'est-à-dire sur rien. Souvent, elle vient "
        "d'une fonction sans `return`, ou d'une méthode comme `liste.sort()` qui ne renvoie rien.",
    ),
    Rule(
        "AttributeError",
        r"'(?P<type>\w+)' object has no attribute '(?P<name>\w+)'.*",
        "« {name} » n'existe pas ici",
        "`.{name}` n'existe pas pour {type}{where}. Vérifie l'orthographe du nom.",
    ),
    Rule(
        "ModuleNotFoundError",
        r"No module named '(?P<module>[\w.]+)'",
        "Module introuvable : « {module} »",
        "Le module `{module}`, importé{where}, n'existe pas ici. Vérifie son nom ; dans ce "
        "cours, seuls "
        "les modules fournis avec Python (comme `math` ou `random`) sont disponibles.",
    ),
)
