"""Clients for tickroom servers: ``clients.python`` (asyncio client, bots), ``clients/browser``."""
