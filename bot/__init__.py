"""threadbot: a Discord bot that chats in threads through an OpenAI-compatible API.

Three layers, one folder each: :mod:`bot.core` decides (no I/O of its own, no Discord),
:mod:`bot.services` does I/O behind the core's protocols (stores, limiter backends, the model
client, metrics), and :mod:`bot.app` with ``cogs/`` is the Discord side. ``tests/bot/
test_boundaries.py`` keeps the imports pointing that way.
"""

__version__ = "0.1.0"
