"""Registry backends: the interface (``RegistryBackend``, ``RoomListing``) and the in-memory
implementation every single-process server uses (``MemoryBackend``).

See ``docs/reference/registry.md`` for how to implement another one.
"""

from game_server.backends.base import RegistryBackend, RoomListing
from game_server.backends.memory import MemoryBackend

__all__ = ["MemoryBackend", "RegistryBackend", "RoomListing"]
