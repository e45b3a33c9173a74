"""A seeded workload through the fast socket's sessions, printed as everything it writes.

``test_native_edge.py`` runs this file in two interpreters, one with the C paths
(``game_server._native``: ``Room._publish`` and ``FastSession.on_ws_frame``) and one with
``TICKROOM_PURE_PYTHON=1``, and compares what they print: every frame each socket was sent,
every close, the edge's counters, the rooms' stats and each member's bookkeeping must be the
same either way.

Sockets here are stand-ins (no event loop I/O): they record what is sent, can be paused, can
have sent their close frame, and can fail the next send. Frames from the peer are real picows
frames. The workload mixes the hot path (a player's INPUT, a state frame per tick) with every
case the C code hands back to Python: stale and repeated inputs, a full backlog, spectators,
ACKs and PINGs, bad bytes, oversized messages, fragments, a JSON member, the rate limit, a
member far behind (coalesced ticks), frames queued before the state, paused sockets, failing
sends, sequence numbers of every msgpack width, and a room that publishes every other tick.

    python tests/server/native_edge_workload.py SEED TICKS

``WORKLOAD_MAX_FRAME_SIZE`` in the environment sets the edge's ``max_frame_size`` (default 256).
A value with a point is assigned, as a float and unvalidated, once the sessions have joined
(the C code then compares a message's size with it as numbers, as the Python method does).
With any value under 64 KiB set there, two members then get a message of the limit's size and
one of a byte more: the first passes the size check, the second closes with MESSAGE_TOO_BIG.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import random
import secrets
import sys
from types import SimpleNamespace
from typing import Any

from picows import WSMsgType
from picows.picows import _make_test_ws_frame

import game_server.native
import game_server.room as room_module
from game_server.app import ServerState
from game_server.clock import ManualClock
from game_server.fastsocket import FastSession
from game_server.games.arena import Arena
from game_server.registry import RoomRegistry
from game_server.settings import Settings
from protocol.codec import encode, encode_json
from protocol.codes import PROTOCOL_VERSION, SUBPROTOCOL_JSON
from protocol.messages import Ack, Input, Join, Message, Ping

ROOMS = (("fast", 1), ("slow", 2), ("own", 1))
"""(roomKey, patch_rate) of each room; "own" is a room whose class has its own input and ACK
methods (the C paths must call them, not inline Room's)."""
SEQ_EDGES = (127, 128, 255, 256, 65_535, 65_536, 2**32 - 1, 2**32)
"""msgpack's integer widths change at these: sequence numbers land on each."""


class OwnArena(Arena):
    """The arena with its own ``_take_input`` and ``_take_ack`` (they count, then do Room's),
    and a ``_state_frame`` that fails now and then."""

    def _take_input(self, client: Any, seq: int, payload: Any) -> None:
        self.user_inputs = getattr(self, "user_inputs", 0) + 1
        super()._take_input(client, seq, payload)

    def _take_ack(self, client: Any, tick: int) -> None:
        self.user_acks = getattr(self, "user_acks", 0) + 1
        super()._take_ack(client, tick)

    def _state_frame(self, baseline: int) -> Any:
        """Fails the first build of every 37th tick (that member's socket is dropped; the next
        member builds the frame)."""
        tick = self._tracker.tick
        if tick % 37 == 0 and getattr(self, "failed_at", None) != tick:
            self.failed_at = tick
            self.frames_failed = getattr(self, "frames_failed", 0) + 1
            raise RuntimeError("the state frame could not be built")
        return super()._state_frame(baseline)


class Socket:
    """Stands in for a picows ``WSTransport``: records what is written."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.is_close_frame_sent = False
        self.fail_next = False

    def send(self, kind: WSMsgType, data: bytes) -> None:
        if self.fail_next:
            self.fail_next = False
            raise OSError("the socket broke")
        self.log.append(f"{kind.name} {data.hex()}")

    def send_close(self, code: Any = None, reason: bytes = b"") -> None:
        self.is_close_frame_sent = True
        self.log.append(f"close {int(code) if code is not None else None} {reason!r}")

    def disconnect(self, graceful: bool = True) -> None:
        self.log.append(f"disconnect graceful={graceful}")


def frame(payload: bytes, kind: WSMsgType = WSMsgType.BINARY, fin: bool = True) -> Any:
    """A real picows frame from the peer."""
    return _make_test_ws_frame(kind, payload, fin, False)


def message(session: FastSession, value: Message) -> Any:
    """``value`` as the session's subprotocol frames it: msgpack, or JSON text."""
    if session.connection.is_json:
        return frame(encode_json(value).encode(), WSMsgType.TEXT)
    return frame(encode(value))


def seeded_secrets(rng: random.Random) -> None:
    """Room ids, seeds, tokens and session ids from ``rng``: both runs see the same bytes."""

    def token_urlsafe(nbytes: int | None = None) -> str:
        raw = rng.randbytes(16 if nbytes is None else nbytes)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    secrets.token_urlsafe = token_urlsafe
    secrets.randbits = rng.getrandbits  # type: ignore[assignment]


async def run(seed: int, ticks: int) -> list[str]:
    rng = random.Random(seed)
    seeded_secrets(random.Random(seed + 1))
    clock = ManualClock(1000.0)
    room_module.time = SimpleNamespace(time=clock.now)  # type: ignore[attr-defined,assignment]  # a PONG's time
    registry = RoomRegistry(clock)
    for key, rate in ROOMS:
        game = OwnArena if key == "own" else Arena
        registry.define(
            f"arena-{key}", game, filter_by=("roomKey",), max_clients=6, patch_rate=rate
        )
    limit = os.environ.get("WORKLOAD_MAX_FRAME_SIZE")  # None: 256, and no boundary messages
    size = 256 if limit is None else int(float(limit))
    settings = Settings(games=[], max_frame_size=size)
    server = ServerState(settings=settings, clock=clock, registry=registry)
    await registry.start()
    sessions: list[tuple[FastSession, Socket, list[str]]] = []
    for key, _ in ROOMS:
        room_id = ""
        for member in range(5):
            spectator = member == 4
            if member == 0:
                seat = await registry.create(f"arena-{key}", {"roomKey": key})
                room_id = seat.room_id
            else:
                seat = await registry.join_by_id(room_id, {}, spectator=spectator)
            json = member == 3 and key == "fast"
            session = FastSession(server, seat.room_id, SUBPROTOCOL_JSON if json else None)
            log: list[str] = []
            socket = Socket(log)
            session.on_ws_connected(socket)  # type: ignore[arg-type]
            join = encode(Join(PROTOCOL_VERSION, seat.token))
            if json:
                text = encode_json(Join(PROTOCOL_VERSION, seat.token)).encode()
                session.on_ws_frame(socket, frame(text, WSMsgType.TEXT))  # type: ignore[arg-type]
            else:
                session.on_ws_frame(socket, frame(join))  # type: ignore[arg-type]
            sessions.append((session, socket, log))
    if limit is not None and "." in limit:  # after the connections took theirs: read per message
        settings.max_frame_size = float(limit)  # type: ignore[assignment]  # not validated
    if limit is not None and size < 65536:  # the limit's size passes the check, a byte more closes
        for (session, socket, _), length in zip(sessions[:2], (size, size + 1), strict=True):
            session.on_ws_frame(socket, frame(b"\x04" + bytes(length - 1)))  # type: ignore[arg-type]
    loops = [registry._rooms[room_id].loop for room_id in registry.rooms]
    seqs = [0] * len(sessions)
    for tick in range(ticks):
        clock.set(clock.now() + 0.05)
        for index, (session, socket, _) in enumerate(sessions):
            roll = rng.random()
            peer: Any = session
            if roll < 0.55:  # the hot path, now and then with a seq of a wider width
                seqs[index] += rng.choice([1, 1, 1, 1, 100, 70_000, 5_000_000_000])
                if rng.random() < 0.05:  # or exactly on a width's edge
                    seqs[index] = max([seqs[index], *(e for e in SEQ_EDGES if e > seqs[index])][:2])
                payload = {"dx": rng.uniform(-1, 1), "dy": rng.choice([0, 1, -1, 0.5])}
                peer.on_ws_frame(socket, message(session, Input(seqs[index], payload)))
            elif roll < 0.6:  # an old or repeated input
                old = max(1, seqs[index] - rng.randint(0, 2))
                peer.on_ws_frame(socket, message(session, Input(old, {"dx": 1})))
            elif roll < 0.65:  # an ACK: of the last state, of an older one, or of every width
                client = session.client
                tick_seen = client.sent_tick if client is not None else 0
                tick_acked = rng.choice([max(tick_seen, 0), 0, 1, 70_000, 2**33])
                peer.on_ws_frame(socket, message(session, Ack(tick_acked)))
            elif roll < 0.66 and not session.connection.is_json:  # a frame over three messages
                # INPUT [4, [seq, nil], nil]: the middle message alone reads as INPUT [seq, nil],
                # but the decoder holds the frame's start, so it is not one
                peer.on_ws_frame(socket, frame(bytes((0x04, 0x93))))
                peer.on_ws_frame(socket, frame(encode(Input(seqs[index] + 1, None))))
                peer.on_ws_frame(socket, frame(b"\xc0"))
            elif roll < 0.7:
                peer.on_ws_frame(socket, message(session, Ping(1.0)))
            elif roll < 0.701:  # bad bytes: the connection closes
                peer.on_ws_frame(socket, frame(bytes([0x04, 0xC1, 0x00])))
            elif roll < 0.702:  # over max_frame_size (256): the connection closes
                peer.on_ws_frame(socket, frame(b"\x04" + bytes(300)))
            elif roll < 0.703:  # a JSON frame (text) on a binary member, or the other way
                peer.on_ws_frame(socket, frame(b'{"type":"ack","tick":1}', WSMsgType.TEXT))
            elif roll < 0.74:  # an INPUT in two fragments
                data = encode(Input(seqs[index] + 1, {"dx": 0.25}))
                seqs[index] += 1
                peer.on_ws_frame(socket, frame(data[:2], fin=False))
                peer.on_ws_frame(socket, frame(data[2:], WSMsgType.CONTINUATION))
            elif roll < 0.76:  # a burst: the rate limit (dropped, then closed when far over)
                for _ in range(rng.choice([5, 40, 100, 300])):
                    seqs[index] += 1
                    peer.on_ws_frame(socket, message(session, Input(seqs[index], {"dy": 1})))
            elif roll < 0.8:
                session.pause_writing()
            elif roll < 0.86:
                session.resume_writing()
            elif roll < 0.88:
                socket.fail_next = True
            elif roll < 0.89:  # a frame queued before the next state
                if session.client is not None:
                    session.client.send("note", {"tick": tick})
            elif roll < 0.9:
                socket.is_close_frame_sent = rng.random() < 0.5
        for loop in loops:
            loop.run_due(clock.now())
    out: list[str] = [f"native={game_server.native.NATIVE}"]
    for index, (session, _, log) in enumerate(sessions):
        client = session.client
        out.append(f"-- session {index}: {len(log)} writes")
        out.extend(log)
        out.append(f"close_to_send={session.connection.close_to_send}")
        if client is not None:
            out.append(
                f"client sent={client.sent_tick} received={client.received_seq}"
                f" queued={client.queued} last={client.last_input_seq}"
                f" pending={client.pending_frames} dropped={client.inputs_dropped}"
                f" acked={client.acked_tick}"
                f" status={client.status.value} input={client.input}"
            )
    metrics = server.metrics
    out.append(f"metrics {sorted(vars(metrics).items())}")
    for room_id in sorted(registry.rooms):
        room = registry._rooms[room_id].room
        stats = room.stats
        if isinstance(room, OwnArena):
            out.append(
                f"own inputs={getattr(room, 'user_inputs', 0)} acks={getattr(room, 'user_acks', 0)}"
                f" frames_failed={getattr(room, 'frames_failed', 0)}"
            )
        out.append(
            f"room ticks={stats.ticks} coalesced={stats.frames_coalesced} errors={stats.errors}"
            f" dropped={stats.inputs_dropped} published={room.published_tick}"
            f" state={room._tracker.hash()}"
        )
    return out


def main() -> None:
    logging.disable(logging.CRITICAL)  # failed writes are logged: the printout is what counts
    seed, ticks = int(sys.argv[1]), int(sys.argv[2])
    for line in asyncio.run(run(seed, ticks)):
        print(line)


if __name__ == "__main__":
    main()
