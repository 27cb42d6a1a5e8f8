"""The core: rules and decisions, the reply lifecycle, context and tokens, policy, texts.

No I/O of its own and no Discord: it imports neither discord, aiohttp, a database or Redis
client, nor openai, and reads time through an injected clock. It talks to the outside through
protocols it defines (:class:`~bot.core.store.Store`, :class:`~bot.core.ratelimit.Limiter`,
:class:`~bot.core.llm.ModelClient`, :class:`~bot.core.replies.Surface`, ...).
"""
