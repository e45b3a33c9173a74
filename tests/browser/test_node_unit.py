"""The browser client's own unit tests (clients/browser/tests/*.test.js) under ``node --test``.

They check the codec against tests/vectors/protocol_vectors.json, deltas against
tests/vectors/diff_vectors.json, interpolation, prediction, and the Room over a fake socket.
"""

from __future__ import annotations

import re

from browser.node_runner import BROWSER_CLIENT, run_node


def test_the_javascript_unit_tests_pass() -> None:
    result = run_node("--test", str(BROWSER_CLIENT / "tests") + "/")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"node --test failed:\n{output[-8000:]}"
    passed = re.search(r"^# pass (\d+)$", output, re.M)
    failed = re.search(r"^# fail (\d+)$", output, re.M)
    assert passed is not None, output[-2000:]
    assert failed is not None, output[-2000:]
    assert int(failed[1]) == 0
    assert int(passed[1]) >= 200, f"only {passed[1]} JavaScript tests ran"
