"""decode-runner: the interactive exercise runner of the "Décoder le code" MOOC."""

__version__ = "0.1.0"
