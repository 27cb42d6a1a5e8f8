"""The services: the I/O behind the core's protocols (store backends, the Redis limiter and
budgets, the model client on openai, metrics). They import the core, never the Discord side.
"""
