"""Where a loaded server's CPU goes: time spent inside each of its callbacks, per client-tick.

A diagnostic, not a measurement of the server as shipped: it runs ``bench/arena_server.py``
with timing wrappers (``time.perf_counter``) around the server's callbacks, which add about
0.6 µs a client-tick. Run it under the shared driver in place of the server, then sum it up::

    python ../shared/bench/driver.py --name split --rooms 100 --players 10 --duration 30 \\
        --server "python bench/callback_split.py --split /tmp/split.jsonl --port {port}" \\
        --bots "node bench/node/tickbot.cjs --port {port} --rooms {rooms} \\
                --players {players} --offset {offset} --observe-every 10"
    python bench/callback_split.py --summary /tmp/split.jsonl --skip 8 --seconds 20

Every second (with the server's ``TICKS`` line) one JSON line is appended to the ``--split``
file: the process's CPU seconds, the seconds spent inside each wrapped callback, the rooms'
ticks and the clients joined, all cumulative. ``--summary`` takes ``--seconds`` lines after
the first ``--skip`` (the join and the warm-up) and prints µs per client-tick for each part:

- ``receive``: ``FastSession.on_ws_frame`` (admit, decode, queue a message);
- ``tick``: ``TickLoop.run_due`` (every room tick), and inside it ``update`` (the arena's
  ``Arena.update``) and ``publish`` (``Room._publish``, the sends included);
- ``outside``: everything else (the event loop, reading sockets, the socket library's framing).

Owns: the wrappers and the arithmetic. Must never: run in a measured benchmark.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PARTS = {
    "receive": ("game_server.fastsocket", "FastSession", "on_ws_frame"),
    "tick": ("game_server.loop", "TickLoop", "run_due"),
    "update": ("game_server.games.arena", "Arena", "update"),
    "publish": ("game_server.room", "Room", "_publish"),
}
"""Each part's callback: module, class, method."""


class Split:
    """Seconds spent inside each wrapped callback, cumulative."""

    def __init__(self) -> None:
        self.spent = dict.fromkeys(PARTS, 0.0)

    def wrap(self, cls: type, name: str, part: str) -> None:
        """Replace ``cls.name`` with a wrapper adding its time to ``part``."""
        function: Callable[..., Any] = getattr(cls, name)
        spent = self.spent
        clock = time.perf_counter

        def timed(*args: Any) -> Any:
            started = clock()
            try:
                return function(*args)
            finally:
                spent[part] += clock() - started

        setattr(cls, name, timed)

    def install(self) -> None:
        """Wrap every part's callback."""
        import importlib  # noqa: PLC0415  # only a diagnostic run imports the server here

        for part, (module, cls, name) in PARTS.items():
            self.wrap(getattr(importlib.import_module(module), cls), name, part)

    def line(self, ticks: int, clients: int, rooms: int) -> dict[str, Any]:
        """One cumulative record."""
        return {
            "t": round(time.time(), 3),
            "cpu": time.process_time(),
            "ticks": ticks,
            "clients": clients,
            "rooms": rooms,
            **self.spent,
        }


def summary(lines: list[dict[str, Any]], skip: int, seconds: int) -> dict[str, float]:
    """µs per client-tick of each part over ``seconds`` lines after the first ``skip``."""
    if len(lines) < skip + seconds + 1:
        raise SystemExit(f"{len(lines)} lines: need at least {skip + seconds + 1}")
    first, last = lines[skip], lines[skip + seconds]
    rooms = max(last["rooms"], 1)
    client_ticks = (last["ticks"] - first["ticks"]) * last["clients"] / rooms
    if client_ticks <= 0:
        raise SystemExit("no client-ticks in that window")
    per = {key: 1e6 * (last[key] - first[key]) / client_ticks for key in ("cpu", *PARTS)}
    per["rest of the tick"] = per["tick"] - per["update"] - per["publish"]
    per["outside"] = per["cpu"] - per["receive"] - per["tick"]
    per["client_ticks"] = client_ticks
    return per


def print_summary(per: dict[str, float], out: TextIO) -> None:
    """The summary as a readable table on ``out``."""
    out.write(f"µs per client-tick over {per['client_ticks']:,.0f} client-ticks\n")
    for key in ("cpu", "receive", "tick", "update", "publish", "rest of the tick", "outside"):
        label = "all of the server's CPU" if key == "cpu" else key
        out.write(f"  {label:<24} {per[key]:7.2f}\n")


def serve(split_file: Path, argv: list[str]) -> int:
    """Run the bench server with the wrappers, a split line with each TICKS line."""
    from bench import arena_server  # noqa: PLC0415  # after the path is set

    split = Split()
    split.install()
    out = split_file.open("a")
    report = arena_server.TickReporter.report

    def report_and_split(self: arena_server.TickReporter) -> None:
        report(self)
        server = getattr(self.app.state, "server", None)
        if server is None:
            return
        rooms = server.registry.rooms
        clients = sum(len(room.clients) for room in rooms.values())
        out.write(json.dumps(split.line(self.total_ticks(server), clients, len(rooms))) + "\n")
        out.flush()

    arena_server.TickReporter.report = report_and_split  # type: ignore[method-assign]
    return arena_server.main(argv)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--split", type=Path, help="serve, appending split lines to this file")
    parser.add_argument("--summary", type=Path, help="sum up a split file")
    parser.add_argument("--skip", type=int, default=8, help="lines to skip (join, warm-up)")
    parser.add_argument("--seconds", type=int, default=20, help="lines to sum up after those")
    args, rest = parser.parse_known_args(argv)
    if args.summary is not None:
        lines = [json.loads(line) for line in args.summary.read_text().splitlines() if line]
        print_summary(summary(lines, args.skip, args.seconds), sys.stdout)
        return 0
    if args.split is None:
        parser.error("give --split FILE (with the server's arguments) or --summary FILE")
    return serve(args.split, rest)


if __name__ == "__main__":
    sys.exit(main())
