"""``python -m clients.python.bots`` (and ``tickroom-bots``): the load tester's command line.

    tickroom-bots --url http://127.0.0.1:8000 --room arena --rooms 10 --players 10 \\
        --duration 60 --json result.json

prints a live progress line on stderr (when it is a terminal, or with ``--progress``), then a
summary on stdout, writes the same figures as JSON with ``--json``, and exits 1 when any bot
failed to join or dropped (2 for bad arguments).

``--driver`` speaks the bot-process contract of ``../shared/bench/driver.py`` instead: join,
print ``JOINED <joined> <failed>``, send inputs, measure between the stdin lines ``START`` and
``STOP``, then print ``RESULT <json>`` with the keys ``node/botlib.cjs`` uses (``hist``,
``bin_ms``, ``states``, ``bytes``, ``inputs``, ``clients``, ``failed``, ``closed``,
``errors``) and exit. ``--duration`` is then only a safety cap (default 600 s); the end of
stdin counts as STOP. A driver command line::

    --bots "python -m clients.python.bots --driver --port {port} --rooms {rooms} \\
            --players {players} --offset {offset}"

Owns: argument parsing, the progress line, the driver contract and the event loop choice
(uvloop when installed). Must never: hold measurement logic (``runner`` and ``report`` do).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from clients.python.bots.report import BotReport
from clients.python.bots.runner import BotConfig, BotRunner
from clients.python.bots.strategies import Strategy, load_strategy

DRIVER_CAP = 600.0
"""Seconds a driver-mode process runs at most when no STOP arrives."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tickroom-bots",
        description="Join R rooms x P bots to a tickroom server, play, and measure.",
        epilog="exit status: 0 all joined and none dropped, 1 some bots failed, 2 bad arguments",
    )
    parser.add_argument("--url", default=None, help="server base URL (http://127.0.0.1:8000)")
    parser.add_argument("--port", type=int, help="shorthand for --url http://127.0.0.1:PORT")
    parser.add_argument("--room", default="arena", help="room type to create (default arena)")
    parser.add_argument("--rooms", type=int, default=1, help="rooms to fill (default 1)")
    parser.add_argument("--players", type=int, default=10, help="bots per room (default 10)")
    parser.add_argument("--duration", type=float, help="seconds of play (default 10)")
    parser.add_argument("--rate", type=float, default=20.0, help="inputs/s per bot (default 20)")
    parser.add_argument("--stagger", type=float, default=0.005, help="seconds between joins")
    parser.add_argument("--join-timeout", type=float, default=60.0)
    parser.add_argument(
        "--strategy",
        default="random",
        help="random, scripted:FILE (a JSON list of inputs) or package.module:function",
    )
    parser.add_argument("--options", default="{}", help="join options as a JSON object")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON to FILE")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None)
    progress.add_argument("--no-progress", dest="progress", action="store_false")
    parser.add_argument("--driver", action="store_true", help="the bench driver's contract")
    parser.add_argument("--offset", type=int, default=0, help="room number offset (driver)")
    return parser


def _config(args: argparse.Namespace) -> tuple[BotConfig, Strategy]:
    if args.url is None:
        args.url = f"http://127.0.0.1:{args.port or 8000}"
    duration = args.duration if args.duration is not None else (DRIVER_CAP if args.driver else 10.0)
    try:
        options = json.loads(args.options)
    except ValueError:
        raise ValueError("--options must be a JSON object") from None
    if not isinstance(options, dict):
        raise ValueError("--options must be a JSON object")
    config = BotConfig(
        url=args.url,
        room=args.room,
        rooms=args.rooms,
        players=args.players,
        duration=duration,
        rate=args.rate,
        stagger=args.stagger,
        join_timeout=args.join_timeout,
        options=options,
        seed=args.seed,
        room_offset=args.offset,
    )
    return config, load_strategy(args.strategy)


def _progress_printer(stream: TextIO) -> Callable[[BotRunner], None]:
    def show(runner: BotRunner) -> None:
        stream.write("\r" + runner.progress_line().ljust(100))
        stream.flush()

    return show


async def run_and_report(
    config: BotConfig, strategy: Strategy, *, progress: bool, json_file: str | None
) -> BotReport:
    """Run the bots, print the summary on stdout, write the JSON file."""
    show = _progress_printer(sys.stderr) if progress else None
    runner = BotRunner(config, strategy, progress=show)
    report = await runner.run()
    if progress:
        sys.stderr.write("\n")
    print(report.text(), flush=True)
    if json_file:
        Path(json_file).write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    return report


async def run_driver(
    config: BotConfig, strategy: Strategy, *, stdin: TextIO, stdout: TextIO
) -> BotReport:
    """The bench driver's bot process (see the module docstring)."""
    runner = BotRunner(config, strategy)
    client = runner.make_client()
    try:
        await runner.join_all(client)
        stdout.write(f"JOINED {runner.totals.joined} {runner.totals.failed}\n")
        stdout.flush()
        commands = _read_lines(stdin)
        play = asyncio.get_running_loop().create_task(runner.play(config.duration))
        while not play.done():
            line = asyncio.ensure_future(commands.get())
            await asyncio.wait({line, play}, return_when=asyncio.FIRST_COMPLETED)
            if not line.done():
                line.cancel()
                break
            command = line.result()
            if command.startswith("START"):
                runner.start_recording()
            elif command.startswith(("STOP", "EOF")):
                break
        runner.stop()
        await play
        if runner.recording:
            runner.stop_recording()
        stdout.write("RESULT " + json.dumps(driver_result(runner)) + "\n")
        stdout.flush()
        await runner.leave_all(timeout=5.0)
    finally:
        await client.aclose()
    return runner.report()


def driver_result(runner: BotRunner) -> dict[str, Any]:
    """The RESULT line's fields, named as ``node/botlib.cjs`` names them."""
    totals = runner.totals
    return {
        "hist": {str(index): count for index, count in sorted(runner.latency.bins.items())},
        "bin_ms": runner.latency.bin_ms,
        "states": totals.states_received,
        "bytes": totals.bytes_received,
        "inputs": totals.inputs_sent,
        "clients": totals.joined,
        "failed": totals.failed,
        "closed": totals.dropped,
        "errors": totals.errors,
    }


def _read_lines(stream: TextIO) -> asyncio.Queue[str]:
    """Lines of ``stream`` read by a daemon thread into a queue; ``EOF`` at its end."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str] = asyncio.Queue()

    def put(line: str) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is listening any more
            loop.call_soon_threadsafe(queue.put_nowait, line)

    def read() -> None:
        for line in stream:
            put(line.strip())
        put("EOF")

    threading.Thread(target=read, name="bots-stdin", daemon=True).start()
    return queue


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is installed (it is, with uvicorn[standard]), else asyncio's."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config, strategy = _config(args)
    except ValueError as exc:
        parser.print_usage(sys.stderr)
        print(f"tickroom-bots: error: {exc}", file=sys.stderr)
        return 2
    progress = args.progress if args.progress is not None else sys.stderr.isatty()
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        if args.driver:
            report = runner.run(run_driver(config, strategy, stdin=sys.stdin, stdout=sys.stdout))
            print(report.text(), file=sys.stderr)
        else:
            report = runner.run(
                run_and_report(config, strategy, progress=progress, json_file=args.json)
            )
    return 0 if report.ok else 1
