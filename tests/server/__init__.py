"""Registry, matchmaking and backend tests (a package, so its conftest has a name of its own)."""
