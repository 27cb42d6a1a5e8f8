"""The Discord side: the ``commands.Bot`` subclass, the wiring that builds every service from the
settings, the runner, and the REST gate's hook into discord.py's HTTP session. With ``cogs/``,
the only code that knows discord.py.
"""
