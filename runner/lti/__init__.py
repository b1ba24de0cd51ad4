"""LTI 1.3 Advantage tool (docs/lti.md): launches, deep linking, scores (AGS), rosters (NRPS),
dynamic registration and the tool's keys. Domain only: no Starlette; network access comes in as
injected callables (``runner/web/outbound.py`` provides them), storage through ``LtiStore``."""
