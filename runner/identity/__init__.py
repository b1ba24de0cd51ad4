"""Platforms (MOOCs) and their learners: configuration, signed launch tokens, webhook signing and
delivery. Domain code: no Starlette; network access comes in through injected callables."""
