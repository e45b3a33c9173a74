"""What the shared-vector tests share: where the files are, and what their generators write now."""

from __future__ import annotations

import importlib.util
from pathlib import Path

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"


def generated(generator: str) -> str:
    """What ``tests/vectors/<generator>.py``'s ``render()`` writes now (compare it with the
    committed file; rerun the generator when they differ)."""
    spec = importlib.util.spec_from_file_location(generator, VECTORS_DIR / f"{generator}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rendered: str = module.render()
    return rendered
