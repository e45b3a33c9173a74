"""How ``SharedPortProtocol`` routes a connection, with stand-in transports and protocols (no
sockets; the real ones are in tests/e2e/test_shared_port.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from game_server import sharedport
from game_server.sharedport import SharedPortProtocol, shared_port_protocol


class FakeTransport:
    """Records the protocol it is given; ``closing`` says whether it is closing."""

    def __init__(self) -> None:
        self.protocol: Any = None
        self.closing = False

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def is_closing(self) -> bool:
        return self.closing


class FakeHttp:
    """Stands in for uvicorn's HTTP protocol: records how it was made and what it got."""

    made: list[FakeHttp] = []  # noqa: RUF012

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        self.transport: Any = None
        self.data = b""
        self.eof = False
        FakeHttp.made.append(self)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> bool | None:
        self.eof = True
        return None


class FakeBuffered(asyncio.BufferedProtocol):
    """Stands in for picows's protocol: a small buffer, so the hand-over feeds it in pieces."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self.buffer = bytearray(size)
        self.data = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self.buffer)

    def buffer_updated(self, nbytes: int) -> None:
        self.data += bytes(self.buffer[:nbytes])


class FakeGameSocket:
    def __init__(self) -> None:
        self.protocols: list[FakeBuffered] = []

    def protocol(self) -> FakeBuffered:
        made = FakeBuffered()
        self.protocols.append(made)
        return made


@pytest.fixture(autouse=True)
def fake_http(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeHttp.made = []
    monkeypatch.setattr(sharedport, "AutoHTTPProtocol", FakeHttp)


def connect(
    game_socket: Callable[[], Any], loop: asyncio.AbstractEventLoop
) -> tuple[SharedPortProtocol, FakeTransport]:
    cls = shared_port_protocol(game_socket)
    front = cls(config="config", server_state="state", app_state={}, _loop=loop)
    transport = FakeTransport()
    front.connection_made(transport)  # type: ignore[arg-type]
    return front, transport


def test_a_game_socket_request_goes_to_the_game_socket_with_every_byte() -> None:
    async def test() -> None:
        game = FakeGameSocket()
        front, transport = connect(lambda: game, asyncio.get_running_loop())
        request = b"GET /ws/room1 HTTP/1.1\r\nHost: x\r\n\r\n"
        front.data_received(request[:5])  # "GET /": it may be either yet
        assert transport.protocol is None
        front.data_received(request[5:])
        assert transport.protocol is game.protocols[0]
        assert game.protocols[0].transport is transport
        assert game.protocols[0].data == request  # fed through its 4-byte buffer
        assert not FakeHttp.made

    asyncio.run(test())


def test_any_other_request_goes_to_uvicorn_made_with_its_own_arguments() -> None:
    async def test() -> None:
        game = FakeGameSocket()
        front, transport = connect(lambda: game, asyncio.get_running_loop())
        front.data_received(b"POST /matchmake/create/arena HTTP/1.1\r\n")
        http = FakeHttp.made[0]
        assert transport.protocol is http
        assert http.kwargs["config"] == "config"
        assert http.kwargs["server_state"] == "state"
        assert http.data == b"POST /matchmake/create/arena HTTP/1.1\r\n"
        assert not game.protocols

    asyncio.run(test())


def test_a_game_socket_that_fails_to_make_its_protocol_leaves_the_connection_to_uvicorn() -> None:
    class Broken:
        def protocol(self) -> Any:
            raise AssertionError("picows refused its options")

    async def test() -> None:
        front, transport = connect(Broken, asyncio.get_running_loop())
        front.data_received(b"GET /ws/room1 HTTP/1.1\r\n")
        assert transport.protocol is FakeHttp.made[0]
        assert FakeHttp.made[0].data == b"GET /ws/room1 HTTP/1.1\r\n"

    asyncio.run(test())


def test_feeding_stops_when_the_new_protocol_closes_the_transport() -> None:
    class Closing(FakeBuffered):
        def buffer_updated(self, nbytes: int) -> None:
            super().buffer_updated(nbytes)
            self.transport.closing = True  # it answered and closed on the first bytes

    class Game:
        def protocol(self) -> Closing:
            return Closing()

    async def test() -> None:
        front, transport = connect(Game, asyncio.get_running_loop())
        front.data_received(b"GET /ws/room1 HTTP/1.1\r\n")
        assert transport.protocol.data == b"GET "  # one 4-byte buffer, then no more

    asyncio.run(test())


def test_an_empty_buffer_from_the_new_protocol_is_an_error_not_a_busy_loop() -> None:
    async def test() -> None:
        game = FakeGameSocket()
        game.protocol = lambda: FakeBuffered(size=0)  # type: ignore[method-assign]
        front, _ = connect(lambda: game, asyncio.get_running_loop())
        with pytest.raises(RuntimeError, match="empty buffer"):
            front.data_received(b"GET /ws/room1 HTTP/1.1\r\n")

    asyncio.run(test())


def test_without_a_game_socket_every_connection_goes_to_uvicorn() -> None:
    async def test() -> None:
        front, transport = connect(lambda: None, asyncio.get_running_loop())
        front.data_received(b"GET /ws/room1 HTTP/1.1\r\n")
        assert transport.protocol is FakeHttp.made[0]

    asyncio.run(test())


def test_the_first_byte_that_differs_decides_for_uvicorn() -> None:
    async def test() -> None:
        game = FakeGameSocket()
        front, transport = connect(lambda: game, asyncio.get_running_loop())
        front.data_received(b"GET /")
        assert transport.protocol is None
        front.data_received(b"r")  # GET /rooms...
        assert transport.protocol is FakeHttp.made[0]
        assert FakeHttp.made[0].data == b"GET /r"
        assert not game.protocols

    asyncio.run(test())


def test_a_silent_connection_goes_to_uvicorn_after_the_first_line_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sharedport, "FIRST_LINE_TIMEOUT", 0.01)

    async def test() -> None:
        front, transport = connect(FakeGameSocket, asyncio.get_running_loop())
        await asyncio.sleep(0.05)
        assert transport.protocol is FakeHttp.made[0]
        assert FakeHttp.made[0].data == b""  # nothing read, nothing fed
        front.data_received(b"late")  # uvicorn's now: a stray call changes nothing here
        assert len(FakeHttp.made) == 1

    asyncio.run(test())


def test_end_of_input_before_a_line_is_uvicorns_to_answer() -> None:
    async def test() -> None:
        front, transport = connect(FakeGameSocket, asyncio.get_running_loop())
        front.data_received(b"GET /w")
        assert front.eof_received() is None  # uvicorn's answer: close the transport
        http = FakeHttp.made[0]
        assert transport.protocol is http
        assert http.data == b"GET /w"
        assert http.eof

    asyncio.run(test())


def test_a_connection_lost_before_routing_makes_no_protocol() -> None:
    async def test() -> None:
        front, transport = connect(FakeGameSocket, asyncio.get_running_loop())
        front.data_received(b"GET")
        front.connection_lost(None)
        assert front.eof_received() is None
        await asyncio.sleep(0)
        assert transport.protocol is None
        assert not FakeHttp.made

    asyncio.run(test())


def test_a_protocol_that_closes_the_transport_on_connect_is_fed_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Refusing(FakeHttp):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            transport.closing = True  # as a protocol that refuses the connection at once

    monkeypatch.setattr(sharedport, "AutoHTTPProtocol", Refusing)

    async def test() -> None:
        front, transport = connect(lambda: None, asyncio.get_running_loop())
        front.data_received(b"GET / HTTP/1.1\r\n")
        assert transport.protocol is FakeHttp.made[0]
        assert FakeHttp.made[0].data == b""

    asyncio.run(test())
