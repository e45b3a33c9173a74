"""The ``python -m game_server`` (and ``tickroom``) command line.

    python -m game_server run [--host 127.0.0.1] [--port 8000] [--game name=module:Class] ...
        [--redis redis://127.0.0.1:6379/0 [--workers N]]
    python -m game_server replay match.tickrec [--strict]
    python -m game_server simulate --game arena --ticks 10000 --clients 10 --seed 7 \\
        [--record match.tickrec]

``replay`` re-runs a recording headless and checks the state hash after every tick: it prints
the ticks replayed and OK, or the first tick whose hash differs with the expected and actual
hashes. ``simulate`` runs a headless match of simulated clients sending random inputs (from the
seed, so the same arguments give the same final hash) and prints ticks per second and the final
state hash; ``--record`` saves it for ``replay``.

Exit status: 0 when all is well, 1 when a replay diverged, 2 for bad arguments or a file that is
not a recording. Owns: argument parsing and the printed summaries. Must never: hold game or
replay logic (that lives in ``game_server.recording`` and ``game_server.simulation``).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence

from game_server.errors import ReplayDivergedError
from game_server.games.arena import Arena
from game_server.recording import Recording, load_room_class, replay
from game_server.room import Room
from game_server.serve import run, run_workers
from game_server.settings import Settings
from game_server.simulation import Simulation

GAMES: dict[str, type[Room]] = {"arena": Arena}
"""Games ``simulate`` knows by name; any other ``module:Class`` is imported."""

INPUT_CHANCE = 0.3
"""Chance that a simulated client sends an input on a given tick."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m game_server",
        description="Run the server, replay recorded matches, run headless simulations.",
        epilog="exit status: 0 ok, 1 a replay diverged, 2 bad arguments or file",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run_command = commands.add_parser(
        "run", help="start the server (reference games registered; Ctrl-C drains and stops)"
    )
    run_command.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    run_command.add_argument("--port", type=int, help="port to bind (default 8000)")
    run_command.add_argument("--log-level", help="uvicorn log level (default info)")
    run_command.add_argument("--tick-rate", type=float, help="override every room's tick rate")
    run_command.add_argument(
        "--game",
        action="append",
        metavar="NAME=MODULE:CLASS",
        help="register a room type (repeatable; adds to the reference games)",
    )
    run_command.add_argument(
        "--no-demo-games", action="store_true", help="register only the --game rooms"
    )
    run_command.add_argument("--public-url", help="base URL clients reach this server at")
    run_command.add_argument(
        "--game-port", type=int, help="also serve the game socket here, on the fast transport"
    )
    run_command.add_argument(
        "--no-fast-socket",
        action="store_true",
        help="serve game sockets through the FastAPI app, not the fast transport on --port",
    )
    run_command.add_argument(
        "--allow-origin", action="append", metavar="ORIGIN", help="extra allowed Origin"
    )
    run_command.add_argument(
        "--redis", metavar="URL", help="share rooms with other processes through this Redis"
    )
    run_command.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="run N processes on ports PORT..PORT+N-1 (needs --redis)",
    )

    replay_command = commands.add_parser("replay", help="replay a recording and check its hashes")
    replay_command.add_argument("file", metavar="FILE", help="a recording (.tickrec)")
    replay_command.add_argument(
        "--strict", action="store_true", help="stop with an error at the first divergence"
    )

    simulate = commands.add_parser("simulate", help="run a headless match with random inputs")
    simulate.add_argument("--game", default="arena", help="arena, or module:Class")
    simulate.add_argument("--ticks", type=int, default=1000)
    simulate.add_argument("--clients", type=int, default=10)
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--record", metavar="FILE", help="save the match for replay")
    return parser


def _replay(file: str, strict: bool) -> int:
    try:
        recording = Recording.load(file)
    except (OSError, ValueError) as exc:
        print(f"error: {file}: {exc}", file=sys.stderr)
        return 2
    try:
        result = replay(recording, strict=strict)
    except ReplayDivergedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ImportError, AttributeError) as exc:
        print(f"error: cannot load room {recording.room!r}: {exc}", file=sys.stderr)
        return 2
    if result.ok:
        print(f"replayed {result.ticks} ticks: OK")
        return 0
    print(f"replayed {result.ticks} ticks: DIVERGED at tick {result.diverged_at}")
    print(f"  expected hash {result.expected}")
    print(f"  actual hash   {result.actual}")
    return 1


def _simulate(args: argparse.Namespace) -> int:
    try:
        game = GAMES[args.game] if args.game in GAMES else load_room_class(args.game)
    except (ImportError, AttributeError, ValueError):
        print(f"error: unknown game {args.game!r}", file=sys.stderr)
        return 2
    if args.ticks < 0 or args.clients < 0:
        print("error: --ticks and --clients must not be negative", file=sys.stderr)
        return 2
    sim = Simulation(game, seed=args.seed, record=args.record is not None)
    clients = [sim.join({"name": f"bot{number}"}) for number in range(1, args.clients + 1)]
    rng = random.Random(args.seed)
    started = time.perf_counter()
    for _ in range(args.ticks):
        for client in clients:
            if rng.random() < INPUT_CHANCE:
                client.send_input({"dx": rng.randint(-1, 1), "dy": rng.randint(-1, 1)})
        sim.step()
    elapsed = time.perf_counter() - started
    rate = args.ticks / elapsed if elapsed > 0 else float("inf")
    print(f"{args.ticks} ticks, {args.clients} clients, seed {args.seed}: {rate:,.0f} ticks/s")
    print(f"final hash {sim.room.state_hash()}")
    if sim.recording is not None:
        sim.recording.save(args.record)
        print(f"recorded to {args.record}")
    return 0


def settings_from_args(args: argparse.Namespace) -> Settings:
    """``Settings`` from the environment, overridden by the flags given."""
    base = Settings()
    overrides: dict[str, object] = {}
    for flag, name in (
        ("host", "host"),
        ("port", "port"),
        ("log_level", "log_level"),
        ("tick_rate", "tick_rate"),
        ("public_url", "public_url"),
        ("game_port", "game_port"),
        ("redis", "redis_url"),
    ):
        value = getattr(args, flag)
        if value is not None:
            overrides[name] = value
    games = [] if args.no_demo_games else list(base.games)
    games.extend(args.game or [])
    overrides["games"] = games
    if args.no_fast_socket:
        overrides["fast_socket"] = False
    if args.allow_origin:
        overrides["allowed_origins"] = [*base.allowed_origins, *args.allow_origin]
    return Settings(**{**base.model_dump(), **overrides})


def _run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if not settings.games:
        print("error: no games to serve (add --game name=module:Class)", file=sys.stderr)
        return 2
    print(
        f"tickroom serving {len(settings.games)} room types on "
        f"http://{settings.host}:{settings.port}/ (Ctrl-C to stop)"
    )
    if args.workers > 1:
        problem = _workers_problem(settings, args.workers)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        return run_workers(settings, args.workers)
    run(settings)
    return 0


def _workers_problem(settings: Settings, workers: int) -> str:
    """Why ``--workers`` cannot run with ``settings`` (empty when it can)."""
    if not settings.redis_url:
        return "--workers needs --redis (the processes share their rooms through it)"
    if settings.port == 0 or settings.game_port == 0:
        return "--workers needs a fixed --port (the workers take the ports after it)"
    if settings.public_url and "{port}" not in settings.public_url:
        return "with --workers, --public-url must contain {port} (each process has its own)"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit
    status."""
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "replay":
        return _replay(args.file, args.strict)
    return _simulate(args)


if __name__ == "__main__":
    sys.exit(main())
