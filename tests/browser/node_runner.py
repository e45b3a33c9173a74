"""Running Node.js from the browser tests: found, new enough, or a loud failure.

Node runs the browser client's unit tests (``node --test``) and the tools that check it against
the Python protocol. A machine without it fails these tests with the command that installs it;
they never skip, so CI cannot pass without having run them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROWSER_CLIENT = ROOT / "clients" / "browser"
MIN_NODE = 20
INSTALL_HINT = "install Node.js 20 or newer (Debian: apt-get install nodejs); see scripts/setup"


def node() -> str:
    """The path of a Node.js of at least ``MIN_NODE``; fails the test otherwise."""
    path = shutil.which("node")
    if path is None:
        pytest.fail(f"node was not found on PATH: {INSTALL_HINT}", pytrace=False)
    version = subprocess.run(
        [path, "--version"], capture_output=True, text=True, check=False, timeout=30
    ).stdout.strip()
    match = re.fullmatch(r"v(\d+)\..*", version)
    if match is None or int(match[1]) < MIN_NODE:
        pytest.fail(f"node {version or '?'} is too old: {INSTALL_HINT}", pytrace=False)
    return path


def run_node(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``node ARGS`` from the repository root, output captured."""
    return subprocess.run(
        [node(), *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=timeout
    )
