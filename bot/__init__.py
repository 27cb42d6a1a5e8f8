"""threadbot: a Discord bot that chats in threads through an OpenAI-compatible API.

The core (everything in this package except :mod:`bot.app`) knows nothing of Discord events.
"""

__version__ = "0.1.0"
