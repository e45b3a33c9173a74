"""What bots send: a strategy is ``strategy(step) -> input payload | None`` per bot and input.

    random                  a random walk on the arena: {"dx", "dy"} in -1..1, turning now and then
    scripted:FILE           the inputs listed in a JSON file (a list; null sends nothing), looped
    package.module:function your own: called with a Step, returns the payload (or None)

A user function gets a ``Step``: which bot (``bot``, ``room``), which input (``step``, from 0),
the bot's current view of the state (``state``, read-only), its ``session_id`` and a seeded
``random``. It runs on the bots' event loop: keep it quick.

Owns: ``Step``, the built-in strategies and ``load_strategy``. Must never: do I/O per step.
"""

from __future__ import annotations

import importlib
import json
import random as random_module
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(slots=True)
class Step:
    """What a strategy sees for one input of one bot."""

    bot: int
    room: int
    step: int
    state: dict[str, Any]
    session_id: str
    random: random_module.Random


Strategy = Callable[[Step], Any]


class RandomWalk:
    """Arena inputs: keep a direction, pick a new one with probability ``turn`` per input."""

    def __init__(self, turn: float = 0.2) -> None:
        self.turn = turn
        self._directions: dict[int, tuple[float, float]] = {}

    def __call__(self, step: Step) -> dict[str, float]:
        direction = self._directions.get(step.bot)
        if direction is None or step.random.random() < self.turn:
            direction = (step.random.uniform(-1, 1), step.random.uniform(-1, 1))
            self._directions[step.bot] = direction
        return {"dx": direction[0], "dy": direction[1]}


class Scripted:
    """The inputs of a list, one per step, looped; ``None`` entries send nothing."""

    def __init__(self, inputs: list[Any]) -> None:
        if not inputs:
            raise ValueError("a script needs at least one input")
        self.inputs = inputs

    @classmethod
    def from_file(cls, path: str | Path) -> Scripted:
        """Read a JSON list of inputs (or ``{"inputs": [...]}``)."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if isinstance(data, dict):
            data = data.get("inputs")
        if not isinstance(data, list):
            raise ValueError("a script is a JSON list of inputs")
        return cls(data)

    def __call__(self, step: Step) -> Any:
        return self.inputs[step.step % len(self.inputs)]


def load_strategy(spec: str) -> Strategy:
    """The strategy named by ``spec`` (see the module docstring). ValueError when it cannot
    be loaded."""
    if spec == "random":
        return RandomWalk()
    if spec.startswith("scripted:"):
        try:
            return Scripted.from_file(spec.removeprefix("scripted:"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot load script: {exc}") from None
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise ValueError(f"unknown strategy {spec!r}: use random, scripted:FILE or module:function")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load strategy {spec!r}: {exc}") from None
    if not callable(function):
        raise ValueError(f"strategy {spec!r} is not callable")
    strategy: Strategy = function
    return strategy
