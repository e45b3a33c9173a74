"""Declared precision for numeric fields of room state.

A room declares, by path pattern, how some numbers travel::

    Schema({"players.*.x": Quantized(1 / 16), "players.*.y": Quantized(1 / 16),
            "npcs.*.angle": Float32()})

``*`` matches any map key or list index; other parts match one map key exactly. When several
patterns match one path, the most specific wins: parts are compared from the last one back, and
the first pair that differs decides, an exact key beating ``*``. A quantised
field is stored in the state already rounded to a multiple of ``step`` and travels as the integer
``round(value / step)``; a float32 field is stored rounded to the nearest float32 and travels as
a msgpack float32. Both ends apply the same rounding, so their states (and state hashes) stay
identical. Powers of two (1/16, 1/256) are the best steps: multiples of them are exact floats.

Owns: patterns, their compiled trie (``SchemaNode``), the two precisions, and the schema's wire
form (sent in WELCOME). Must never: know about trackers, connections or I/O.
"""

from __future__ import annotations

import math
import struct
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from protocol.codes import PrecisionKind
from protocol.errors import PatchError, StateError

_F32 = struct.Struct(">f")
_F32_FRAME = struct.Struct(">Bf")
MAX_QUANTIZED = 2**53 - 1


@dataclass(frozen=True, slots=True)
class Quantized:
    """A number stored as a multiple of ``step`` and sent as that multiple's integer count.

    ``relative=True``: in a PATCH the field travels as the *change* of that count since the
    baseline (a small integer, usually one byte, for something that moves a little each tick);
    in a FULL_STATE, and whenever the receiver cannot have had a value, as the count itself.
    """

    step: float
    relative: bool = False
    fast_limit: float = field(init=False, repr=False, compare=False)
    """Values within +-fast_limit are finite and round to an in-range count with no further
    check (the tracked containers' hot path); others take ``normalize``'s careful path."""

    def __post_init__(self) -> None:
        if not (type(self.step) in (int, float) and math.isfinite(self.step) and self.step > 0):
            raise StateError("step must be a positive finite number")
        object.__setattr__(self, "fast_limit", min(2.0**52 * self.step, float(MAX_QUANTIZED)))

    def normalize(self, value: float) -> float:
        """``value`` rounded to the nearest multiple of ``step``."""
        return self.to_wire(value) * self.step

    def to_wire(self, value: float) -> int:
        """The integer that travels for ``value``."""
        try:
            count = round(value / self.step)
        except OverflowError:  # value / step is infinite
            raise StateError("value out of range for its quantised step") from None
        if not -MAX_QUANTIZED <= count <= MAX_QUANTIZED:
            raise StateError("value out of range for its quantised step")
        return count

    def from_wire(self, value: object) -> float:
        """The number a received integer stands for; PatchError for anything else."""
        if type(value) is not int:
            raise PatchError("a quantised field must travel as an integer")
        return value * self.step

    def wire(self) -> list[Any]:
        """``[kind, step]`` as sent in the schema."""
        kind = PrecisionKind.QUANTIZED_RELATIVE if self.relative else PrecisionKind.QUANTIZED
        return [int(kind), self.step]


@dataclass(frozen=True, slots=True)
class Float32:
    """A number stored rounded to the nearest float32 and sent as a msgpack float32."""

    def normalize(self, value: float) -> float:
        """``value`` rounded to the nearest float32."""
        try:
            rounded: float = _F32.unpack(_F32.pack(value))[0]
        except OverflowError:
            raise StateError("value out of range for float32") from None
        return rounded

    def to_wire(self, value: float) -> float:
        """Float32 values travel as themselves (the encoder writes 4 bytes)."""
        return value

    def from_wire(self, value: object) -> float:
        """The number received; PatchError for a non-number."""
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise PatchError("a float32 field must travel as a number")
        return float(value)

    def wire(self) -> list[Any]:
        """``[kind, null]`` as sent in the schema."""
        return [int(PrecisionKind.FLOAT32), None]


Precision = Quantized | Float32


class Float32Value(float):
    """A float that the encoder writes as a msgpack float32."""

    __slots__ = ()


def pack_float32(value: float) -> bytes:
    """The 5-byte msgpack float32 encoding of ``value``."""
    return _F32_FRAME.pack(0xCA, value)


class SchemaNode:
    """One level of the compiled pattern trie.

    ``child(key)`` gives the node for a child key (exact match first, then ``*``);
    ``precision(key)`` the precision declared for that child, if any. ``has_float32`` is true
    when some field at or below this node is a Float32 (encoders then write bytes themselves).
    """

    __slots__ = (
        "children",
        "has_float32",
        "precisions",
        "relative_steps",
        "wildcard",
        "wildcard_precision",
        "wildcard_relative_step",
    )

    def __init__(self) -> None:
        self.children: dict[str, SchemaNode] = {}
        self.wildcard: SchemaNode | None = None
        self.precisions: dict[str, Precision] = {}
        self.wildcard_precision: Precision | None = None
        self.has_float32 = False
        self.relative_steps: dict[str, float] = {}
        """Every key of ``precisions``: its step when relative quantised, else 0.0. With
        ``wildcard_relative_step`` (0.0 when the wildcard is not relative quantised), one
        lookup, ``relative_steps.get(key, wildcard_relative_step)``, tells a delta encoder
        whether a number travels as a change of count (the commonest field of moving state)."""
        self.wildcard_relative_step = 0.0

    def child(self, key: object) -> SchemaNode | None:
        """The node for ``key``'s subtree, or None when nothing is declared below it."""
        node = self.children.get(key) if type(key) is str else None
        return node if node is not None else self.wildcard

    def precision(self, key: object) -> Precision | None:
        """The precision declared for the value at ``key``, or None."""
        found = self.precisions.get(key) if type(key) is str else None
        return found if found is not None else self.wildcard_precision


def _parse_pattern(pattern: str | tuple[str | None, ...]) -> tuple[str | None, ...]:
    parts: tuple[str | None, ...]
    if isinstance(pattern, str):
        # interned: the keys game code writes are interned literals, so lookups by them in
        # the compiled tables match by identity instead of comparing characters
        parts = tuple(None if part == "*" else sys.intern(part) for part in pattern.split("."))
    else:
        parts = tuple(pattern)
    if not parts or any(part is not None and (type(part) is not str or not part) for part in parts):
        raise StateError(f"bad schema pattern {pattern!r}")
    return parts


_Entries = list[tuple[tuple[str | None, ...], Precision]]


def _relative_step(precision: Precision | None) -> float:
    return precision.step if type(precision) is Quantized and precision.relative else 0.0


def _compile(entries: _Entries) -> SchemaNode:
    """The trie node for ``entries`` (patterns relative to it); a later entry beats an earlier
    one. The node for an exact key holds the wildcard's patterns too, listed first so that the
    exact key's own patterns win."""
    node = SchemaNode()
    below: dict[str | None, _Entries] = {}
    for parts, precision in entries:
        if isinstance(precision, Float32):
            node.has_float32 = True
        head, rest = parts[0], parts[1:]
        if rest:
            below.setdefault(head, []).append((rest, precision))
        elif head is None:
            node.wildcard_precision = precision
        else:
            node.precisions[head] = precision
    node.relative_steps = {key: _relative_step(value) for key, value in node.precisions.items()}
    node.wildcard_relative_step = _relative_step(node.wildcard_precision)
    wildcard = below.pop(None, [])
    if wildcard:
        node.wildcard = _compile(wildcard)
    for key, exact in below.items():
        node.children[key] = _compile(wildcard + exact)  # type: ignore[index]
    return node


class Schema:
    """Precision declarations for a room's state. Build once per room class; share freely."""

    __slots__ = ("fields", "root")

    def __init__(self, fields: Mapping[Any, Precision] | None = None) -> None:
        self.fields: dict[tuple[str | None, ...], Precision] = {}
        for pattern, precision in (fields or {}).items():
            if not isinstance(precision, Quantized | Float32):
                raise StateError(f"precision for {pattern!r} must be Quantized or Float32")
            self.fields[_parse_pattern(pattern)] = precision
        self.root = _compile(list(self.fields.items()))

    def wire(self) -> list[Any]:
        """The schema as sent in WELCOME: ``[[path, kind, step_or_null], ...]``; ``null`` in a
        path is the ``*`` wildcard."""
        return [[list(parts), *precision.wire()] for parts, precision in self.fields.items()]

    @classmethod
    def from_wire(cls, value: object) -> Schema:
        """The schema a WELCOME carried; PatchError when it is malformed."""
        if type(value) is not list:
            raise PatchError("schema must be a list")
        fields: dict[str | tuple[str | None, ...], Precision] = {}
        for item in value:
            if type(item) is not list or len(item) != 3 or type(item[0]) is not list:
                raise PatchError("schema entries are [path, kind, step]")
            path, kind, step = item
            try:
                parts = _parse_pattern(tuple(path))
                if type(kind) is int and kind == PrecisionKind.QUANTIZED:
                    fields[parts] = Quantized(step)
                elif type(kind) is int and kind == PrecisionKind.QUANTIZED_RELATIVE:
                    fields[parts] = Quantized(step, relative=True)
                elif type(kind) is int and kind == PrecisionKind.FLOAT32:
                    fields[parts] = Float32()
                else:
                    raise PatchError(f"unknown precision kind {kind!r}")
            except StateError as exc:
                raise PatchError(str(exc)) from None
        return cls(fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self.fields == other.fields

    def __hash__(self) -> int:
        return hash(tuple(self.fields.items()))

    def __repr__(self) -> str:
        return f"Schema({self.fields!r})"


def iter_patterns(schema: Schema) -> Iterable[str]:
    """Human-readable patterns (``players.*.x``), for docs and error messages."""
    for parts in schema.fields:
        yield ".".join("*" if part is None else part for part in parts)
