"""protocol/ is sans-I/O: no module in it imports, or makes Python load, an I/O library.

The server's transport adapter, the Python client and headless simulations all drive the same
protocol objects; that only works while protocol/ never touches sockets, event loops or threads.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL_MODULES = sorted((ROOT / "protocol").glob("*.py"))
IO_LIBRARIES = frozenset(
    {
        "asyncio",
        "socket",
        "starlette",
        "fastapi",
        "uvicorn",
        "websockets",
        "selectors",
        "threading",
        "ssl",
        "http",
    }
)


def imported_packages(source: str) -> set[str]:
    """Top-level names of every package ``source`` imports, at any depth of the module."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and getattr(node.func, "id", getattr(node.func, "attr", None))
            in ("__import__", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return {name.split(".")[0] for name in names}


def test_imported_packages_sees_every_form_of_import() -> None:
    source = (
        "import json, asyncio.streams\n"
        "from http import client\n"
        "from . import codes\n"
        "def later():\n"
        "    import socket\n"
        "    __import__('ssl')\n"
        "    importlib.import_module('threading')\n"
    )
    assert imported_packages(source) == {"json", "asyncio", "http", "socket", "ssl", "threading"}


def test_protocol_has_modules_to_check() -> None:
    assert {"codec.py", "connection.py", "state.py"} <= {path.name for path in PROTOCOL_MODULES}


@pytest.mark.parametrize("path", PROTOCOL_MODULES, ids=lambda path: path.name)
def test_protocol_modules_import_no_io_library(path: Path) -> None:
    assert imported_packages(path.read_text()) & IO_LIBRARIES == set()


def test_importing_all_of_protocol_loads_no_io_library() -> None:
    script = (
        "import importlib, pkgutil, sys\n"
        "import protocol\n"
        "for module in pkgutil.iter_modules(protocol.__path__):\n"
        "    importlib.import_module('protocol.' + module.name)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    # Coverage measurement would start (and import threading) in the child: keep it out.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("COV", "PYTHON"))}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    assert {
        f"protocol.{path.stem}" for path in PROTOCOL_MODULES if path.stem != "__init__"
    } <= loaded
    assert {name.split(".")[0] for name in loaded} & IO_LIBRARIES == set()
