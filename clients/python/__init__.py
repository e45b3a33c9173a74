"""The Python client for tickroom servers (asyncio), its bot runner and the agent API."""
