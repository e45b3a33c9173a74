"""The protocol's optional C extension, ``protocol._native``, and the switch that turns it off.

Four hot paths have a C twin, built from ``protocol/_native*.c`` by ``setup.py`` when the
package is installed with a C compiler at hand:

- a tracked map's write (``protocol.tracked``: a number into a map costs no Python call), and
  the commit's letting go of the dirty nodes the containers cached (``release_nodes``);
- the delta renderer (``protocol.diff``: a PATCH body's objects, built once per baseline);
- a msgpack writer (``protocol.diff``: a PATCH body, once per baseline, and a published tick's
  change tree for the ring, once per room tick; the Packer's exact bytes);
- ``decode_input`` (``protocol.codec``: the INPUT frame a server receives most).

The Python code stays the definition: each C function mirrors its Python function's checks in
the same order, builds the same objects, and calls the Python one for every case it does not
take. ``NATIVE`` says which runs; ``TICKROOM_PURE_PYTHON=1`` in the environment, before the
first import of ``protocol``, forces the Python code everywhere (the test suite runs the
protocol tests both ways and compares their bytes).

Must never: hold protocol logic of its own.
"""

from __future__ import annotations

import importlib
import os
from typing import Any


def pure_python_forced() -> bool:
    """True when ``TICKROOM_PURE_PYTHON`` asks for the Python code (set, and not ``0``); the
    game server's C paths (``game_server.native``) follow the same switch."""
    return os.environ.get("TICKROOM_PURE_PYTHON", "") not in ("", "0")


def load_extension(name: str) -> Any:
    """The C module ``name`` (built by setup.py), or None when it is not built or
    ``TICKROOM_PURE_PYTHON`` is set."""
    if pure_python_forced():
        return None
    try:
        return importlib.import_module(name)
    except ImportError:  # a source tree nobody installed, or a failed build
        return None


def _load_native() -> Any:
    """``protocol._native``, or None (see ``load_extension``)."""
    return load_extension("protocol._native")


native: Any = _load_native()
"""``protocol._native``, or None when the Python code runs."""

NATIVE: bool = native is not None
"""True when the C twins run."""
