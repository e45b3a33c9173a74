"""docs/reference/browser-client.md names everything the browser client exports."""

from __future__ import annotations

import json
from pathlib import Path

from browser.node_runner import BROWSER_CLIENT, run_node

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "browser-client.md"


def test_every_export_of_tickroom_js_is_named() -> None:
    script = (
        f"import({json.dumps((BROWSER_CLIENT / 'tickroom.js').as_uri())})"
        ".then((m) => console.log(JSON.stringify(Object.keys(m))))"
    )
    result = run_node("--input-type=module", "-e", script)
    assert result.returncode == 0, result.stderr
    exports = json.loads(result.stdout)
    assert len(exports) > 40
    page = PAGE.read_text(encoding="utf-8")
    missing = [name for name in exports if f"`{name}" not in page]
    assert missing == [], f"docs/reference/browser-client.md does not name {missing}"
