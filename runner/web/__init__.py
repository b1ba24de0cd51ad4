"""The web edge: Starlette app, HTTP API, /ws protocol; composes the domain, which never imports it."""

from __future__ import annotations
