"""Platform-neutral conversation handlers, one module per capability.

A handler receives a `Turn` (who wrote, what arrived, their state, a translator, services) and
answers through it. Handlers never call Telegram; the engine decides which one runs.
"""
