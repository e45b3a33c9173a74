"""Registry backends: the interface (``RegistryBackend``, ``RoomListing``, ``SharedBackend``,
``BackendUnavailableError``) and the in-memory implementation every single-process server uses
(``MemoryBackend``).

See ``docs/reference/registry.md`` for how to implement another one.
"""

from game_server.backends.base import (
    BackendUnavailableError,
    RegistryBackend,
    RoomListing,
    SharedBackend,
)
from game_server.backends.memory import MemoryBackend

__all__ = [
    "BackendUnavailableError",
    "MemoryBackend",
    "RegistryBackend",
    "RoomListing",
    "SharedBackend",
]
