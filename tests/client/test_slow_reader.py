"""A client that stops reading, over real sockets: it is closed with TOO_SLOW, nobody else notices.

Run on both game-socket transports (the HTTP app's own, and the fast picows one). The latency
figures of the same situation under load are in ``python -m bench.slow_client``; here the test
checks the behaviour: the slow reader's close code, the server's bookkeeping, and a bystander
that keeps getting every tick.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import websockets
from client_servers import LiveServer, live_server, run
from websockets.typing import Subprotocol

from clients.python import GameClient
from game_server.client import ClientStatus
from protocol.codes import SUBPROTOCOL_MSGPACK, CloseCode
from protocol.connection import Connection
from protocol.state import Side

TRANSPORTS = {"app socket": {}, "fast socket": {"game_port": 0}}


async def slow_reader(live: LiveServer, room_id: str) -> tuple[websockets.ClientConnection, str]:
    """Join ``room_id`` by hand, then never read (nor acknowledge) on purpose."""
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{live.url}/matchmake/joinById/{room_id}", json={})
    seat = response.json()
    ws = await websockets.connect(
        seat["url"],
        subprotocols=[Subprotocol(SUBPROTOCOL_MSGPACK)],
        compression=None,
        max_queue=1,  # stop taking frames off the socket as soon as one is waiting
    )
    conn = Connection(Side.CLIENT)
    conn.send_join(seat["token"])
    for data in conn.data_to_send():
        await ws.send(data)
    return ws, seat["session_id"]


async def read_to_the_end(ws: websockets.ClientConnection) -> None:
    """Read until the connection closes (bounded: 10 s)."""
    async with asyncio.timeout(10):
        while True:
            await ws.recv()


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_a_client_that_stops_reading_is_closed_as_too_slow_and_nobody_else_notices(
    transport: str,
) -> None:
    overrides: dict[str, Any] = {"ack_timeout": 2.0, **TRANSPORTS[transport]}  # our ACKs: <= 1 s
    with live_server(**overrides) as live:

        async def main() -> None:
            async with GameClient(live.url) as client:
                bystander = await client.join_or_create("arena")
                ticks: list[int] = []
                bystander.on_state_change(lambda change: ticks.append(change.tick))
                ws, session_id = await slow_reader(live, bystander.room_id)
                await asyncio.sleep(4)  # > ack_timeout + the watchdog's period
                server = live.app.state.server
                room = live.room(bystander.room_id)
                assert server.metrics.too_slow == 1
                assert room.clients[session_id].status is ClientStatus.DROPPED
                assert live.call(lambda: room.clients[session_id].connection) is None
                # The bystander got every tick, one state each, while that went on.
                assert len(ticks) >= 60
                assert ticks == list(range(ticks[0], ticks[0] + len(ticks)))
                assert bystander.connected
                # Reading again, the slow client finds what was sent, then the close.
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await read_to_the_end(ws)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == CloseCode.TOO_SLOW
                await bystander.leave()

        run(main(), timeout=40)
