"""The server serves the browser client and the demo beside its API, which still works.

``create_app`` mounts clients/browser at /client/ and answers / and /connect-four with the demo
pages; the matchmaking, listing and socket routes, and the OpenAPI docs, are unchanged. The
vendored msgpack library is the npm release its README names, file for file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from game_server.app import create_app
from game_server.settings import Settings

BROWSER_CLIENT = Path(__file__).resolve().parents[2] / "clients" / "browser"
VENDOR = BROWSER_CLIENT / "vendor"


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings())) as test_client:
        yield test_client


def test_the_lobby_is_served_at_the_root(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/client/demo/lobby.js">' in response.text


def test_the_connect_four_page_is_served(client: TestClient) -> None:
    response = client.get("/connect-four")
    assert response.status_code == 200
    assert "/client/demo/connect-four.js" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/client/tickroom.js",
        "/client/codes.js",
        "/client/demo/arena.js",
        "/client/examples/tag.js",
        "/client/vendor/msgpack/index.mjs",
    ],
)
def test_modules_are_served_as_javascript(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"


def test_every_module_the_pages_import_exists() -> None:
    """Each relative import of every served module names a file that is there."""
    specifier = re.compile(r"""^\s*(?:import|export)\b[^'"]*?from\s+["'](\.[^"']+)["']""", re.M)
    modules = [
        path
        for path in BROWSER_CLIENT.rglob("*.js")
        if "tests" not in path.relative_to(BROWSER_CLIENT).parts
    ]
    assert len(modules) >= 12
    for module in modules:
        for target in specifier.findall(module.read_text(encoding="utf-8")):
            assert (module.parent / target).resolve().is_file(), f"{module}: {target}"


def test_a_missing_file_is_a_404(client: TestClient) -> None:
    assert client.get("/client/nope.js").status_code == 404
    assert client.get("/client/../pyproject.toml").status_code == 404


def test_a_socket_opened_on_a_file_path_is_refused_cleanly(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/client/tickroom.js"):
        pass


def test_the_api_and_its_docs_still_work(client: TestClient) -> None:
    assert client.get("/rooms").json() == []
    assert client.get("/healthz").status_code == 200
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/matchmake/{method}/{room_name}" in paths
    assert "/rooms" in paths
    assert "/" not in paths
    assert not any(path.startswith("/client") for path in paths)


def test_a_room_created_private_is_joined_by_id_only(client: TestClient) -> None:
    seat = client.post("/matchmake/create/arena", json={"name": "ann", "private": True}).json()
    assert client.post("/matchmake/join/arena", json={}).status_code == 404
    joined = client.post(f"/matchmake/joinById/{seat['room_id']}", json={"name": "bob"})
    assert joined.status_code == 200
    assert joined.json()["room_id"] == seat["room_id"]


def test_the_vendored_msgpack_is_the_release_its_readme_names() -> None:
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    assert "@msgpack/msgpack" in readme
    assert "3.1.3" in readme
    assert "ISC" in readme
    license_text = (VENDOR / "msgpack" / "LICENSE").read_text(encoding="utf-8")
    assert "Copyright 2019 The MessagePack Community" in license_text
    sums = (VENDOR / "msgpack" / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    listed = {}
    for line in sums:
        digest, name = line.split()
        listed[name] = digest
    present = {
        path.relative_to(VENDOR / "msgpack").as_posix()
        for path in (VENDOR / "msgpack").rglob("*.mjs")
    }
    assert set(listed) == present
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / "msgpack" / name).read_bytes()).hexdigest() == digest, name
