"""The web edge: Starlette app, HTTP API, /ws protocol; the domain never imports it."""

from __future__ import annotations
