"""Room state that records its own changes, and the deltas that carry them.

Room state is a tree: a root map with string keys, holding maps, lists, numbers, strings,
booleans and None. ``StateTracker.state`` is that root as a ``TrackedMap`` (a ``dict``): game
code reads and writes it like any dict, and every write marks what it touched in a *dirty tree*.
``commit(tick)`` seals the dirty tree as the changes of that tick and keeps the last ``history``
of them in a ring, so a delta from any baseline still in the ring is one union away.

A **delta** (the body of a PATCH frame) is a map applied to the receiver's root map. For each key:

- a *map* entry is a nested delta, applied to the child map in place;
- an *array* entry is an operation: ``[0]`` delete the key, ``[1, value]`` set it to a whole
  value (used for maps and lists), ``[2, length, {index: entry}, group...]`` edit a list in
  place: resize it to ``length``, then apply each entry (same grammar) at its index, then each
  group; ``[3, delta, group...]`` edit a map in place: apply ``delta``, then each group;
- anything else (number, string, boolean, nil) sets the key to that value.

A *group* ``[[field, ...], key, entry, ..., key, entry, ...]`` stands for the nested deltas
``{key: {field: entry, ...}}`` of several children that changed the same fields (entities that
moved): the field names travel once per group instead of once per child. The encoder groups
every two or more nested deltas of one container that have the same keys in the same order.

Numbers declared in the room's ``Schema`` travel in their declared precision (see
protocol/schema.py). Deltas carry current values, never history: the delta from baseline B to
tick T sets every key touched after B to its value at T, or deletes it if it is gone.

Owns: ``StateTracker`` (the dirty-tree ring) and the wire form of full states and deltas. The
tracked containers live in ``protocol.tracked``; the receiving side (``apply_delta``,
``decode_state``) and the canonical ``state_hash`` in ``protocol.replica``. This module
re-exports them, so ``from protocol.diff import ...`` reaches everything about state.
Must never: know about connections, rooms, clocks or I/O.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgpack

from protocol.codes import PatchOp
from protocol.errors import LocalProtocolError
from protocol.native import native as _native
from protocol.replica import (
    _NOT_A_FIELD,
    DELETE_ENTRY,
    apply_delta,
    decode_state,
    iter_paths,
    state_hash,
)
from protocol.schema import Float32, Float32Value, Quantized, Schema, SchemaNode, pack_float32
from protocol.tracked import (
    _MISSING,
    MAX_SAFE_INT,
    Path,
    TrackedList,
    TrackedMap,
    _ListDirty,
    to_plain,
)

__all__ = [
    "MAX_SAFE_INT",
    "Path",
    "StateTracker",
    "TrackedList",
    "TrackedMap",
    "apply_delta",
    "decode_state",
    "iter_paths",
    "state_hash",
    "to_plain",
]

_packb = msgpack.Packer(autoreset=True, use_bin_type=True).pack
_pack_native: Any = None if _native is None else _native.pack
"""``protocol._native.pack``: the same bytes in C, or None for a value it does not take."""


def _pack_plain(value: Any) -> bytes:
    """msgpack bytes of a wire value with no float32 leaves (``_packb``'s, from C when built)."""
    packed = None if _pack_native is None else _pack_native(value)
    return _packb(value) if packed is None else packed


# -- the tracker ---------------------------------------------------------------------------------


class StateTracker:
    """The authoritative state of one room and the ring of its recent changes.

    Mutate ``state`` during a tick, then call ``commit(tick)``; after that, and before the next
    mutation, ``encode_full()`` and ``encode_delta(baseline)`` give the bodies of FULL_STATE and
    PATCH frames for that tick. A baseline older than the ring (``history`` commits) gives None:
    send a full state instead.
    """

    __slots__ = (
        "_cached",
        "_dirty",
        "_pack",
        "_ring",
        "floor",
        "gen",
        "history",
        "schema",
        "state",
        "tick",
    )
    # Slots: the C write reads ``gen``, ``_dirty`` and ``_cached`` at their offsets
    # (protocol/_native.c).

    def __init__(
        self,
        initial: dict[str, Any] | None = None,
        *,
        schema: Schema | None = None,
        history: int = 64,
        tick: int = 0,
    ) -> None:
        if history < 1:
            raise LocalProtocolError("history must be at least 1")
        self.schema = schema or Schema()
        self.history = history
        self.gen = 0
        self._dirty: dict[Any, Any] = {}
        self._cached: list[Any] = []
        """The containers holding a dirty node of this generation (``_dirty_node``): commit
        lets go of those nodes, so the ring holds the tree alone."""
        self.state = TrackedMap()
        self.state._attach(None, None, self)
        self.state._schema = self.schema.root if self.schema.fields else None
        self._pack = _pack_mixed if self.schema.root.has_float32 else _pack_plain
        for key, value in (initial or {}).items():
            self.state._set_initial(key, value)
        self.tick = tick
        self.floor = tick
        self._ring: deque[tuple[int, dict[Any, Any] | bytes]] = deque()
        """(tick, changes) of at most the last ``history`` commits, every tick after ``floor``
        (``release()`` lets go of the oldest); ``compact()`` packs the changes of the ticks
        already published into bytes."""

    @property
    def changed(self) -> bool:
        """True when the state changed since the last commit."""
        return bool(self._dirty)

    def commit(self, tick: int) -> None:
        """Seal the changes made since the last commit as the changes of ``tick``."""
        if tick <= self.tick:
            raise LocalProtocolError("commit ticks must increase")
        self._ring.append((tick, self._dirty))
        if len(self._ring) > self.history:
            self.floor = self._ring.popleft()[0]
        self._dirty = {}
        self.gen += 1
        self.tick = tick
        _release_nodes(self._cached)  # the tick is committed: its nodes are stale anyway

    def compact(self, through: int) -> None:
        """Pack the changes of every committed tick up to ``through`` into bytes.

        Call it once the frames of those ticks are built (a room does, after publishing): a
        change tree is dozens of small objects, a packed one is one, and the ring keeps
        ``history`` of them. A delta from an older baseline unpacks what it needs; the bytes it
        gives are the same, but a delta to the newest tick is cheaper from its tree.
        """
        ring = self._ring
        index = len(ring) - 1
        while index >= 0 and ring[index][0] > through:
            index -= 1
        while index >= 0:
            tick, changes = ring[index]
            if type(changes) is bytes:
                break  # packed already, and so is every older one
            ring[index] = (tick, _pack_changes(changes))  # its numbers are within 2**53
            index -= 1

    def release(self, through: int) -> None:
        """Forget the changes of every committed tick up to ``through``.

        Call it when no receiver needs a delta from a baseline older than ``through`` (a room
        does, after publishing: every member is on ``through`` or newer). What it keeps
        is a delta from ``through`` on: ``has_baseline`` turns False for older baselines, so a
        full state goes instead. A tick's changes dropped here cost nothing more; packing them
        (``compact``) is what keeping them costs.
        """
        ring = self._ring
        while ring and ring[0][0] <= through:
            self.floor = ring.popleft()[0]

    def rebase(self) -> None:
        """Make the current state the committed state of the current tick, forgetting every
        change and the ring (after setting up a fresh state, before anyone has a baseline)."""
        self._dirty = {}
        self.gen += 1
        _release_nodes(self._cached)
        self._ring.clear()
        self.floor = self.tick

    def _check_committed(self) -> None:
        if self._dirty:
            raise LocalProtocolError("commit the tick before encoding state")

    def has_baseline(self, baseline: int) -> bool:
        """Whether a delta from ``baseline`` to the current tick can still be made."""
        return self.floor <= baseline <= self.tick

    def full_state(self) -> dict[str, Any]:
        """The committed state in wire form (the FULL_STATE ``state`` field)."""
        self._check_committed()
        return _wire(self.state, self.state._schema)  # type: ignore[no-any-return]

    def encode_full(self) -> bytes:
        """The msgpack body of a FULL_STATE for the committed tick."""
        return self._pack(self.full_state())

    def delta(self, baseline: int) -> dict[str, Any] | None:
        """The delta from ``baseline`` to the committed tick, or None if the ring lost it."""
        self._check_committed()
        if baseline == self.tick:
            return {}
        if not self.floor <= baseline < self.tick:
            return None
        newer: list[dict[Any, Any]] = []
        for tick, changes in reversed(self._ring):  # usually one: the last tick's
            if tick <= baseline:
                break
            newer.append(changes)
        tree: Any = _unpacked(newer.pop())
        while newer:
            tree = _merge(tree, _unpacked(newer.pop()))
        return _render_delta(tree, self.state, self.state._schema)  # type: ignore[no-any-return]

    def encode_delta(self, baseline: int) -> bytes | None:
        """The msgpack body of a PATCH from ``baseline``, or None if the ring lost it."""
        delta = self.delta(baseline)
        return None if delta is None else self._pack(delta)

    def snapshot(self) -> dict[str, Any]:
        """A plain deep copy of the current state (to save, compare or restore)."""
        return to_plain(self.state)  # type: ignore[no-any-return]

    def hash(self) -> str:
        """The canonical hash of the current state (see ``state_hash``)."""
        return state_hash(self.state)


# -- wire form -----------------------------------------------------------------------------------


def _wire_scalar(value: Any, schema: SchemaNode | None, key: object) -> Any:
    if schema is not None and (type(value) is float or type(value) is int):
        precision = schema.precision(key)
        if precision is not None:
            if isinstance(precision, Float32):
                return Float32Value(value)
            return precision.to_wire(value)
    return value


def _wire(value: Any, schema: SchemaNode | None) -> Any:
    """A plain copy of a container in wire form: declared numbers converted."""
    if schema is None:
        return to_plain(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, child in value.items():
            if isinstance(child, dict | list):
                out[key] = _wire(child, schema.child(key))
            else:
                out[key] = _wire_scalar(child, schema, key)
        return out
    items: list[Any] = []
    for index, child in enumerate(value):
        if isinstance(child, dict | list):
            items.append(_wire(child, schema.child(index)))
        else:
            items.append(_wire_scalar(child, schema, index))
    return items


_REPLACE = int(PatchOp.REPLACE)
_LIST = int(PatchOp.LIST)
_MAP = int(PatchOp.MAP)


_Members = list[tuple[Any, Any, TrackedMap]]
"""Maps changed in place that changed the same keys: (key, dirty mark, the map) each."""


def _add_member(buckets: dict[tuple[Any, ...], _Members], key: Any, mark: Any, child: Any) -> None:
    fields = tuple(mark)
    members = buckets.get(fields)
    if members is None:
        buckets[fields] = [(key, mark, child)]
    else:
        members.append((key, mark, child))


def _render_buckets(
    buckets: dict[tuple[Any, ...], _Members], out: dict[Any, Any], schema: SchemaNode | None
) -> list[list[Any]] | None:
    """Put each lone changed map into ``out`` as a nested delta; return a group for each set
    of two or more that changed the same keys (None when there is none)."""
    groups: list[list[Any]] | None = None
    for fields, members in buckets.items():
        if len(members) == 1 or _NOT_A_FIELD in fields:
            for key, mark, child in members:
                out[key] = _map_entry(mark, child, None if schema is None else schema.child(key))
            continue
        flat: list[Any] = [list(fields)]
        if schema is not None and schema.children:  # exact patterns: a schema per key
            for key, mark, child in members:
                flat.append(key)
                flat.extend(_map_delta(mark, child, schema.child(key)).values())
        else:
            _group_values(fields, members, None if schema is None else schema.wildcard, flat)
        if groups is None:
            groups = [flat]
        else:
            groups.append(flat)
    return groups


def _group_values(
    fields: tuple[Any, ...], members: _Members, schema: SchemaNode | None, flat: list[Any]
) -> None:
    """Append each member's key and its entries for ``fields`` (which all members share, with
    ``schema``) to ``flat``. Numbers are rendered here, as ``_map_delta`` renders them, with
    each field's precision looked up once per group; anything else goes through
    ``_map_delta``."""
    plan = [
        (field, 0.0, None)
        if schema is None
        else (
            field,
            schema.relative_steps.get(field, schema.wildcard_relative_step),
            schema.precisions.get(field) or schema.wildcard_precision,
        )
        for field in fields
    ]
    get = dict.get
    append = flat.append
    for key, mark, child in members:
        append(key)
        for field, step, precision in plan:
            now = get(child, field, _MISSING)
            kind = type(now)
            if kind is not float and kind is not int:
                append(_map_delta({field: mark[field]}, child, schema)[field])
            elif step:  # relative quantised
                was = mark[field]
                if type(was) is float or type(was) is int:
                    append(round(now / step) - round(was / step))
                else:
                    append([_REPLACE, round(now / step)])
            elif precision is None:
                append(now)
            elif type(precision) is Quantized:
                append(round(now / precision.step))
            else:  # Float32
                append(Float32Value(now))


def _map_entry(tree: dict[Any, Any], value: TrackedMap, schema: SchemaNode | None) -> Any:
    """A map changed in place, as an entry: a nested delta, or a map edit
    ``[3, delta, group, ...]`` when two or more of its maps changed the same keys."""
    buckets: dict[tuple[Any, ...], _Members] = {}
    out = _map_delta(tree, value, schema, buckets)
    if not buckets:
        return out
    groups = _render_buckets(buckets, out, schema)
    return out if groups is None else [_MAP, out, *groups]


def _entry(mark: Any, child: Any, schema: SchemaNode | None, key: str | int) -> Any:
    kind = type(child)
    if kind is TrackedMap:  # marked whole (callers render maps changed in place themselves)
        return [_REPLACE, _wire(child, None if schema is None else schema.child(key))]
    if kind is TrackedList:
        if type(mark) is _ListDirty:
            return _list_delta(mark, child, None if schema is None else schema.child(key))
        return [_REPLACE, _wire(child, None if schema is None else schema.child(key))]
    value = _wire_scalar(child, schema, key)
    if (kind is float or kind is int) and schema is not None:
        precision = schema.precision(key)
        if type(precision) is Quantized and precision.relative:
            return [_REPLACE, value]  # list items travel whole: no baseline value kept
    return value


def _map_delta(
    tree: dict[Any, Any],
    value: TrackedMap,
    schema: SchemaNode | None,
    buckets: dict[tuple[Any, ...], _Members] | None = None,
) -> dict[str, Any]:
    """The nested delta for the changes ``tree`` marks in ``value``. With ``buckets``, the maps
    changed in place are left out and collected there by the keys they changed, for the caller
    to render (``_render_buckets``); without, each is rendered as an entry at once."""
    out: dict[str, Any] = {}
    get = dict.get
    for key, mark in tree.items():
        child = get(value, key, _MISSING)
        kind = type(child)
        if kind is float or kind is int:  # the hot path: a changed number
            if schema is not None:
                # Stored values are already multiples of step, in range: round() is exact.
                step = schema.relative_steps.get(key, schema.wildcard_relative_step)
                if step:  # relative quantised: the change of count since the baseline
                    if type(mark) is float or type(mark) is int:  # the value at the baseline
                        out[key] = round(child / step) - round(mark / step)
                    else:
                        out[key] = [_REPLACE, round(child / step)]  # no number then: whole
                    continue
                precision = schema.precisions.get(key) or schema.wildcard_precision
                if type(precision) is Float32:
                    child = Float32Value(child)
                elif type(precision) is Quantized:
                    child = round(child / precision.step)
            out[key] = child
        elif child is _MISSING:
            out[key] = DELETE_ENTRY
        elif kind is TrackedMap and type(mark) is dict:  # a map changed in place
            if buckets is None:
                out[key] = _map_entry(mark, child, None if schema is None else schema.child(key))
            else:
                _add_member(buckets, key, mark, child)
        else:
            out[key] = _entry(mark, child, schema, key)
    return out


def _list_delta(mark: _ListDirty, value: TrackedList, schema: SchemaNode | None) -> list[Any]:
    length = len(value)
    tail = length if mark.tail is None else mark.tail
    entries: dict[int, Any] = {}
    buckets: dict[tuple[Any, ...], _Members] = {}
    for index, child_mark in mark.items.items():
        if index < tail:
            item = value[index]
            if type(item) is TrackedMap and type(child_mark) is dict:  # an entity changed
                _add_member(buckets, index, child_mark, item)
            else:
                entries[index] = _entry(child_mark, item, schema, index)
    for index in range(tail, length):
        entries[index] = _entry(True, value[index], schema, index)
    groups = _render_buckets(buckets, entries, schema) if buckets else None
    return [_LIST, length, entries] if groups is None else [_LIST, length, entries, *groups]


if _native is not None:  # the same renderer in C (protocol/_native_delta.c)
    _native.configure_delta(
        (_MISSING, DELETE_ENTRY, _NOT_A_FIELD, _REPLACE, _LIST, _MAP),
        (TrackedMap, TrackedList, _ListDirty, Float32, Quantized, Float32Value),
        _wire,
        _wire_scalar,
    )
    _render_delta: Any = _native.map_delta
else:
    _render_delta = _map_delta


def _list_node_to_wire(node: Any) -> list[Any]:
    if type(node) is _ListDirty:
        return [node.tail, node.items]
    raise TypeError(f"not a dirty node: {type(node).__name__}")


def _list_node_from_wire(fields: list[Any]) -> _ListDirty:
    node = _ListDirty()
    node.tail, node.items = fields
    return node


_change_packer = msgpack.Packer(autoreset=True, use_bin_type=True, default=_list_node_to_wire)
_pack_changes_native: Any = None if _native is None else _native.pack_changes


def _pack_changes(changes: Any) -> bytes:
    """A change tree as msgpack: a map node is a map, True and old numbers are themselves, and
    a list node (the one thing that packs as an array) is ``[tail, items]``. The C twin writes
    the same bytes, and gives None for anything it does not take."""
    packed = None if _pack_changes_native is None else _pack_changes_native(changes)
    return _change_packer.pack(changes) if packed is None else packed


def _unpacked(changes: Any) -> Any:
    """A ring entry's change tree (``compact()`` may have packed it)."""
    if type(changes) is not bytes:
        return changes
    return msgpack.unpackb(changes, raw=False, strict_map_key=False, list_hook=_list_node_from_wire)


def _release_python(cached: list[Any]) -> None:
    for container in cached:
        container._dnode = None
        container._dgen = -1
    cached.clear()


_release_nodes: Any = _release_python if _native is None else _native.release_nodes
"""Empty ``cached`` and let each container in it go of its dirty node (it finds its node
again on its next write, as after any commit)."""


def _merge(older: Any, newer: Any) -> Any:
    """The union of two dirty nodes, as a new node (neither input is modified)."""
    if older is True or newer is True:
        return True
    kind = type(older)
    if kind is float or kind is int:  # a relative number's value at the older baseline: keep it
        return older if type(newer) is float or type(newer) is int else True
    if type(older) is dict and type(newer) is dict:
        out = dict(older)
        for key, mark in newer.items():
            out[key] = _merge(out[key], mark) if key in out else mark
        return out
    if type(older) is _ListDirty and type(newer) is _ListDirty:
        merged = _ListDirty()
        tails = [tail for tail in (older.tail, newer.tail) if tail is not None]
        merged.tail = min(tails) if tails else None
        merged.items = dict(older.items)
        for index, mark in newer.items.items():
            merged.items[index] = (
                _merge(merged.items[index], mark) if index in merged.items else mark
            )
        return merged
    return True


def _pack_mixed(value: Any) -> bytes:
    """msgpack bytes of a wire value that may hold float32 leaves."""
    parts: list[bytes] = []
    _write(value, parts)
    return b"".join(parts)


def _write(value: Any, parts: list[bytes]) -> None:
    kind = type(value)
    if kind is Float32Value:
        parts.append(pack_float32(value))
    elif kind is dict:
        parts.append(_map_header(len(value)))
        for key, child in value.items():
            parts.append(_packb(key))
            _write(child, parts)
    elif kind is list:
        parts.append(_array_header(len(value)))
        for child in value:
            _write(child, parts)
    else:
        parts.append(_packb(value))


_header_packer = msgpack.Packer(autoreset=True)
_map_header = _header_packer.pack_map_header
_array_header = _header_packer.pack_array_header
