"""One level of the arena workload, on one system, through the shared bench driver.

The reference harness lives beside the repository, in ``../shared/bench`` (``$SHARED_BENCH``
overrides it); it is read-only and called, never copied. ``run_level`` runs its ``driver.py``
(server pinned to CPU 0, bots to CPU 1, warm-up, measured window, the sustained rule) for:

- ``tickroom``: ``bench/arena_server.py`` and the Node bots ``bench/node/tickbot.cjs``;
- ``colyseus``: the anchor's own ``run_colyseus.sh`` (which installs itself into
  ``$BENCH_HOME``, default ``~/.cache/arena-bench``), exactly as shipped. Its NPCs never move
  (its ``tick`` starts undefined and becomes NaN, so the NPC loop runs zero times);
- ``colyseus-moving``: the same Colyseus server with ``tick`` starting at 0
  (``bench/node/colyseus_moving.cjs``), so that it runs the workload ``RESULTS.md`` defines, with
  the anchor's own bots and driver;
- ``tickroom-still``: tickroom with the NPCs kept still (``--npc-moves 0``), the workload the
  anchor's Colyseus server runs in fact;
- ``floor-picows``: no room server at all, the anchor's Python floor (state encoded once per
  room, the same bytes to every member) on picows (``bench/floor_picows.py``), with the anchor's
  own Node bots: what Python, uvloop and picows cost on this workload before any feature;
- ``tickroom-pure``: tickroom with ``TICKROOM_PURE_PYTHON=1``, the protocol's Python code running
  instead of its C code, ``protocol._native`` (not run unless named): what the C code buys under
  load.

``PAIRS`` says which systems compare with which: like with like.

Each run gets its own ``$BENCH_OUT`` (a temporary folder, with ``logs/`` so the driver keeps the
server's and bots' stderr) and the driver's JSON line is read back from its ``results.jsonl``.
For tickroom, the server's per-second stats lines give the tick lateness over the window.

Owns: commands, installs, the progress line, reading results. Must never: change the rules of
the measurement (they are the driver's) or talk to anything but 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parents[1]
NODE_DIR = REPO / "bench" / "node"
DEFAULT_SYSTEMS = ("tickroom", "colyseus-moving", "tickroom-still", "colyseus", "floor-picows")
SYSTEMS = (*DEFAULT_SYSTEMS, "tickroom-pure")
PAIRS: tuple[tuple[str, str, str], ...] = (
    # (ours, theirs, what they share)
    ("tickroom", "colyseus-moving", "the workload as RESULTS.md defines it: 20 NPCs step a tick"),
    ("tickroom-still", "colyseus", "the workload the anchor's Colyseus runs: NPCs still"),
)
"""Systems that run the same workload, so that their ratios mean something. tickroom against
the anchor as shipped compares two different workloads (ours moves 20 NPCs a tick, it none)."""

TARGET_LEVEL = 1000
"""The client count the issue's targets are set at."""

TARGETS: tuple[tuple[str, str, str, float], ...] = (
    # (name, figure, comparison, limit): figures at TARGET_LEVEL clients unless said
    ("server CPU per client-tick at 1000 (µs)", "us", "<=", 20.0),
    ("CPU per client-tick vs Colyseus at 1000", "us_ratio", "<=", 0.85),
    ("max sustained clients", "max_sustained", ">=", 1500),
    ("payload per state vs Colyseus", "payload_ratio", "<=", 0.8),
    ("p50 latency at 1000 (ms)", "p50", "<=", 30.0),
    ("p99 latency at 1000 (ms)", "p99", "<=", 55.0),
    ("peak RSS at 1000 (MB)", "rss", "<=", 100.0),
)
"""The issue's targets, each (name, figure, comparison, limit); ``bench.arena_load`` judges
them, ``bench.arena_plots`` draws the limits."""


def target_limit(figure: str) -> float:
    """The limit of the target on ``figure`` (``TARGETS``' second field)."""
    return next(limit for _, name, _, limit in TARGETS if name == figure)


FLOOR_PAIR = ("tickroom", "floor-picows", "the workload; the floor has no room server")
"""tickroom against the Python floor on the same socket library (so printed only with
``--transport shared`` or ``picows``, see ``arena_load.floor_pair``): what our features cost
above the runtime's own floor. A reference line, not a target."""

NATIVE_PAIR = ("tickroom", "tickroom-pure", "the same server; the protocol's code in Python")
"""tickroom against itself without ``protocol._native``: what the C code buys. A reference
line, printed when both run."""

INSTALL_TIMEOUT = 600.0
"""Seconds an install (npm ci, the anchor's setup.sh) may take."""
RUN_SLACK = 120.0
"""Seconds a driver run may take beyond join timeout, warm-up and window before it is killed."""
JOIN_TIMEOUT = 180.0


class BenchError(RuntimeError):
    """The benchmark cannot run (a tool or the shared harness is missing, an install failed)."""


def shared_bench_dir() -> Path:
    """``$SHARED_BENCH``, else ``<repo>/../shared/bench``."""
    env = os.environ.get("SHARED_BENCH")
    folder = Path(env) if env else REPO.parent / "shared" / "bench"
    if not (folder / "driver.py").is_file():
        raise BenchError(f"shared bench harness not found at {folder} (set SHARED_BENCH)")
    return folder


def ensure_node_bots() -> None:
    """Check node and npm, and ``npm ci`` the bots' dependencies if they are missing."""
    if shutil.which("node") is None:
        raise BenchError(
            "node is not installed: the bench bots are Node programs (apt install nodejs npm)"
        )
    if (NODE_DIR / "node_modules" / "ws").is_dir() and (
        NODE_DIR / "node_modules" / "msgpackr"
    ).is_dir():
        return
    if shutil.which("npm") is None:
        raise BenchError("npm is not installed: needed once to install bench/node's dependencies")
    _install(["npm", "ci", "--no-audit", "--no-fund"], NODE_DIR, "npm ci in bench/node")


def ensure_colyseus() -> None:
    """Run the anchor's idempotent ``setup.sh`` (venv + Colyseus into ``$BENCH_HOME``)."""
    _install([str(shared_bench_dir() / "setup.sh")], shared_bench_dir(), "shared bench setup.sh")


def _install(argv: list[str], cwd: Path, what: str) -> None:
    try:
        done = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what} took more than {INSTALL_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise BenchError(f"{what} failed ({done.returncode}): " + " / ".join(tail))


@dataclass(frozen=True)
class RunConfig:
    """What every level of one benchmark run shares."""

    duration: float = 20.0
    warmup: float = 3.0
    observe_every: int = 10
    players: int = 10
    transport: str = "shared"
    bot_procs: int = 1
    extra_bot_args: tuple[str, ...] = ()
    progress: bool = True
    quiet_wait: float = 60.0
    """Seconds to wait, before each run, for both CPUs to be nearly idle (other people's
    builds and tests share these machines); the run starts anyway after that."""


@dataclass
class LevelResult:
    """The driver's JSON line for one level of one system, plus what we derive."""

    system: str
    clients: int
    driver: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Flat, for the JSON report: the driver's keys, ours, and the system key."""
        return {**self.driver, **self.extra, "system": self.system}


def tickroom_argv(
    level: int, cfg: RunConfig, stats_file: Path, driver: Path, *, still: bool = False
) -> list[str]:
    """The driver command line for our server and the Node tickroom bots (``still``: the NPCs
    do not move)."""
    py = shlex.quote(sys.executable)
    server = (
        f"{py} {shlex.quote(str(REPO / 'bench' / 'arena_server.py'))} --port {{port}}"
        f" --players {cfg.players} --transport {cfg.transport}"
        f" --stats {shlex.quote(str(stats_file))}"
    )
    if still:
        server += " --npc-moves 0"
    bots = _bots_command(NODE_DIR / "tickbot.cjs", cfg)
    if cfg.extra_bot_args:
        bots += " " + " ".join(shlex.quote(arg) for arg in cfg.extra_bot_args)
    name = f"tickroom{'-still' if still else ''}-{cfg.transport}"
    return _driver_argv(driver, name, level, cfg, server, bots)


def colyseus_argv(level: int, cfg: RunConfig) -> list[str]:
    """The anchor's own script (it installs itself, then calls the driver)."""
    rooms, players = _rooms(level, cfg)
    script = shared_bench_dir() / "run_colyseus.sh"
    return [str(script), str(rooms), str(players), *_level_args(level, cfg)[4:]]


def bench_home() -> Path:
    """Where the anchor's ``setup.sh`` installs (``$BENCH_HOME``, as its scripts compute it)."""
    env = os.environ.get("BENCH_HOME")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "arena-bench"


def colyseus_moving_argv(level: int, cfg: RunConfig, driver: Path) -> list[str]:
    """The anchor's driver and Colyseus bots, with our one-line-fixed copy of its server."""
    server = f"node {shlex.quote(str(NODE_DIR / 'colyseus_moving.cjs'))} {{port}}"
    bots = _bots_command(shared_bench_dir() / "colyseus" / "bot.cjs", cfg)
    return _driver_argv(driver, "colyseus-moving", level, cfg, server, bots)


def floor_picows_argv(level: int, cfg: RunConfig, driver: Path) -> list[str]:
    """The anchor's driver and raw Node bots (delta format), with our picows floor server."""
    py = shlex.quote(sys.executable)
    server = f"{py} {shlex.quote(str(REPO / 'bench' / 'floor_picows.py'))} {{port}} delta"
    bots = _bots_command(shared_bench_dir() / "node" / "rawbot.cjs", cfg, "--format msgpack-delta")
    return _driver_argv(driver, "floor-picows-delta", level, cfg, server, bots)


def _bots_command(script: Path, cfg: RunConfig, first: str = "") -> str:
    """The Node bots' command line for the driver: ``script``, its own ``first`` flags, then the
    placeholders the driver fills in for each bot process and the observing rate."""
    own = f" {first}" if first else ""
    return (
        f"node {shlex.quote(str(script))}{own} --port {{port}} --rooms {{rooms}}"
        f" --players {{players}} --offset {{offset}} --observe-every {cfg.observe_every}"
    )


def _driver_argv(
    driver: Path, name: str, level: int, cfg: RunConfig, server: str, bots: str
) -> list[str]:
    """The shared driver's command line: run ``server`` and ``bots`` at ``level`` as ``name``."""
    return [
        sys.executable,
        str(driver),
        "--name",
        name,
        *_level_args(level, cfg),
        "--server",
        server,
        "--bots",
        bots,
    ]


def _rooms(level: int, cfg: RunConfig) -> tuple[int, int]:
    if level % cfg.players:
        raise BenchError(f"{level} clients is not a whole number of rooms of {cfg.players}")
    return level // cfg.players, cfg.players


def _level_args(level: int, cfg: RunConfig) -> list[str]:
    rooms, players = _rooms(level, cfg)
    return [
        "--rooms",
        str(rooms),
        "--players",
        str(players),
        "--duration",
        str(cfg.duration),
        "--warmup",
        str(cfg.warmup),
        "--bot-procs",
        str(cfg.bot_procs),
        "--join-timeout",
        str(JOIN_TIMEOUT),
    ]


def run_level(system: str, level: int, cfg: RunConfig, *, log: TextIO = sys.stderr) -> LevelResult:
    """Run ``level`` clients of ``system`` through the driver; return its JSON line."""
    driver = shared_bench_dir() / "driver.py"
    with tempfile.TemporaryDirectory(prefix=f"arena-{system}-{level}-") as tmp:
        out = Path(tmp)
        (out / "logs").mkdir()
        stats_file = out / "server-stats.jsonl"
        env = dict(os.environ, BENCH_OUT=str(out), OBSERVE_EVERY=str(cfg.observe_every))
        if system in ("tickroom", "tickroom-still", "tickroom-pure"):
            argv = tickroom_argv(level, cfg, stats_file, driver, still=system == "tickroom-still")
            env["TICKROOM_PURE_PYTHON"] = "1" if system == "tickroom-pure" else "0"
        elif system == "colyseus":
            argv = colyseus_argv(level, cfg)
        elif system == "colyseus-moving":
            argv = colyseus_moving_argv(level, cfg, driver)
        elif system == "floor-picows":
            argv = floor_picows_argv(level, cfg, driver)
            env["SHARED_BENCH"] = str(shared_bench_dir())
        else:
            raise BenchError(f"unknown system {system!r} (one of {', '.join(SYSTEMS)})")
        if system in ("colyseus-moving", "floor-picows"):  # the anchor's Node bots, its modules
            env["NODE_PATH"] = str(bench_home() / "node" / "node_modules")
        timeout = JOIN_TIMEOUT + cfg.warmup + cfg.duration + RUN_SLACK
        quiet = wait_for_quiet(cfg.quiet_wait)
        _run_with_progress(argv, env, timeout, f"{level} clients · {system}", cfg.progress, log)
        lines = (
            (out / "results.jsonl").read_text().splitlines()
            if (out / "results.jsonl").is_file()
            else []
        )
        if not lines:
            raise BenchError(f"the driver wrote no result for {system} at {level} clients")
        result = json.loads(lines[-1])
        tickroom = system.startswith("tickroom")
        extra: dict[str, Any] = {"transport": cfg.transport} if tickroom else {}
        if "cpu0_busy_pct" in result:  # load on the server's core that was not the server
            extra["other_cpu0_pct"] = round(result["cpu0_busy_pct"] - result["server_cpu_pct"], 1)
        extra["quiet_before_run"] = quiet
        if stats_file.is_file():
            extra.update(server_window_stats(stats_file, result))
        extra["log_tail"] = _log_tail(out / "logs") if "error" in result else None
        slow = _last_slow_line(out / "logs")
        if slow is not None:
            extra["slow_client"] = slow
        return LevelResult(system, level, result, extra)


QUIET_BUSY_PCT = 15.0
"""Both CPUs below this busy share for a whole sample counts as quiet."""


def _cpu_jiffies() -> dict[str, tuple[int, int]]:
    """(busy, total) jiffies per CPU from /proc/stat."""
    out: dict[str, tuple[int, int]] = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *fields = line.split()
                values = [int(v) for v in fields]
                out[name] = (sum(values) - values[3] - values[4], sum(values))
    return out


def wait_for_quiet(limit: float, sample: float = 1.0) -> bool:
    """Wait (at most ``limit`` s) until a ``sample``-second window finds every CPU under
    ``QUIET_BUSY_PCT`` busy. Returns whether it did."""
    end = time.monotonic() + limit
    while True:
        before = _cpu_jiffies()
        time.sleep(sample)
        after = _cpu_jiffies()
        busiest = max(
            100 * (after[c][0] - before[c][0]) / max(1, after[c][1] - before[c][1]) for c in after
        )
        if busiest < QUIET_BUSY_PCT:
            return True
        if time.monotonic() >= end:
            return False


def _run_with_progress(
    argv: list[str], env: dict[str, str], timeout: float, label: str, progress: bool, log: TextIO
) -> None:
    start = time.monotonic()
    live = progress and log.isatty()
    if progress and not live:
        log.write(f"running: {label}\n")
        log.flush()
    with subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as proc:
        while True:
            try:
                _, stderr = proc.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                elapsed = time.monotonic() - start
                if live:
                    log.write(f"\r  {label} · {elapsed:5.1f} s ")
                    log.flush()
                if elapsed > timeout:
                    proc.kill()
                    proc.communicate()
                    raise BenchError(f"{label}: no result after {timeout:.0f} s") from None
    if live:
        log.write(f"\r  {label} · done in {time.monotonic() - start:5.1f} s\n")
        log.flush()
    if proc.returncode != 0:
        raise BenchError(f"{label}: exited {proc.returncode}: {stderr.strip()[-500:]}")


def _log_tail(logs: Path, lines: int = 12) -> str:
    text = "\n".join(path.read_text(errors="replace") for path in sorted(logs.glob("*.log")))
    return "\n".join(text.strip().splitlines()[-lines:])


def _last_slow_line(logs: Path) -> dict[str, Any] | None:
    """The last ``SLOW <json>`` line the bots wrote (the slow client's outcome), if any."""
    found: dict[str, Any] | None = None
    for path in sorted(logs.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("SLOW "):
                found = json.loads(line[5:])
    return found


def server_window_stats(stats_file: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Tick lateness and edge counters over the driver's window, from the server's stats lines.

    The window is taken as the last ``window_s`` seconds during which most clients were still
    connected (the bots all stop right after the window)."""
    rows = [json.loads(line) for line in stats_file.read_text().splitlines() if line.strip()]
    clients = int(result.get("clients", 0))
    full = [row for row in rows if row["sockets"] > clients / 2]
    window = float(result.get("window_s") or 0)
    if not full or not window:
        return {}
    end = full[-1]
    begin = next((row for row in full if row["t"] >= end["t"] - window), full[0])
    if begin is end:
        return {}
    late = _histogram_delta(begin["lateness"], end["lateness"])
    took = _histogram_delta(begin["duration"], end["duration"])
    return {
        "tick_late_p50_ms": _quantile_ms(late, 0.50),
        "tick_late_p99_ms": _quantile_ms(late, 0.99),
        "tick_late_mean_ms": _mean_ms(late),
        "tick_duration_p99_ms": _quantile_ms(took, 0.99),
        "tick_duration_mean_ms": _mean_ms(took),
        "server_too_slow": end["too_slow"] - begin["too_slow"],
        "server_protocol_errors": end["protocol_errors"] - begin["protocol_errors"],
        "server_rate_limited": end["rate_limited"] - begin["rate_limited"],
        "server_frames_coalesced": end["frames_coalesced"] - begin["frames_coalesced"],
        "server_inputs_dropped": end["inputs_dropped"],
        "server_room_errors": end["room_errors"],
        "server_disconnects": rows[-1]["disconnects"],
        "server_too_slow_total": rows[-1]["too_slow"],
    }


def _histogram_delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        "bounds": b["bounds"],
        "counts": [y - x for x, y in zip(a["counts"], b["counts"], strict=True)],
        "count": b["count"] - a["count"],
        "sum": b["sum"] - a["sum"],
    }


def _quantile_ms(histogram: dict[str, Any], q: float) -> float | str | None:
    """Upper bound (ms) of the bucket holding quantile ``q``: ``">250.0"`` past the last
    bound, None without observations."""
    total: int = histogram["count"]
    if not total:
        return None
    running = 0
    for bound, count in zip(histogram["bounds"], histogram["counts"], strict=False):
        running += count
        if running >= q * total:
            return round(float(bound) * 1000, 2)
    return f">{histogram['bounds'][-1] * 1000:.1f}"


def _mean_ms(histogram: dict[str, Any]) -> float | None:
    count = histogram["count"]
    return round(1000 * histogram["sum"] / count, 3) if count else None
