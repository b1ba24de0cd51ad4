"""Fixtures for tests that need a real uvicorn server (filled in by the server work)."""
