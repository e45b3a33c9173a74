"""Room state that records its own changes, and the deltas that carry them.

Room state is a tree: a root map with string keys, holding maps, lists, numbers, strings,
booleans and None. ``StateTracker.state`` is that root as a ``TrackedMap`` (a ``dict``): game
code reads and writes it like any dict, and every write marks what it touched in a *dirty tree*.
``commit(tick)`` seals the dirty tree as the changes of that tick and keeps the last ``history``
of them in a ring, so a delta from any baseline still in the ring is one union away.

A **delta** (the body of a PATCH frame) is a map applied to the receiver's root map. For each key:

- a *map* entry is a nested delta, applied to the child map in place;
- an *array* entry is an operation: ``[0]`` delete the key, ``[1, value]`` set it to a whole
  value (used for maps and lists), ``[2, length, {index: entry}]`` edit a list in place: resize it
  to ``length``, then apply each entry (same grammar) at its index;
- anything else (number, string, boolean, nil) sets the key to that value.

Numbers declared in the room's ``Schema`` travel in their declared precision (see
protocol/schema.py). Deltas carry current values, never history: the delta from baseline B to
tick T sets every key touched after B to its value at T, or deletes it if it is gone.

Owns: tracked containers, the dirty-tree ring, the wire form of full states and deltas, applying
them on the receiving side (``apply_delta`` / ``decode_state``), and the canonical state hash.
Must never: know about connections, rooms, clocks or I/O.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, SupportsIndex

import msgpack

from protocol.codes import PatchOp
from protocol.errors import LocalProtocolError, PatchError, StateError
from protocol.schema import Float32, Quantized, Schema, SchemaNode, pack_float32

MAX_SAFE_INT = 2**53 - 1
_isfinite = math.isfinite
_packb = msgpack.Packer(autoreset=True, use_bin_type=True).pack
_MISSING: Any = object()
_SCALARS = frozenset({type(None), bool, int, float, str})
Path = tuple[str | int, ...]


class _ListDirty:
    """Dirty node of a list: ``items`` touched in place; every index >= ``tail`` resent whole."""

    __slots__ = ("items", "tail")

    def __init__(self) -> None:
        self.items: dict[int, Any] = {}
        self.tail: int | None = None


class _Was:
    """Dirty mark of a relative quantised field: its value before the first change."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


DirtyNode = dict[Any, Any] | _ListDirty


# -- tracked containers -----------------------------------------------------------------------


class _Tracked:
    """What TrackedMap and TrackedList share: their place in the tree and their dirty node."""

    if TYPE_CHECKING:  # the attributes live in the subclasses' slots
        _parent: TrackedMap | TrackedList | None
        _key: str | int | None
        _tracker: StateTracker | None
        _schema: SchemaNode | None
        _dnode: DirtyNode | None
        _dgen: int
    else:  # empty slots keep dict/list layouts; mypy must not see them
        __slots__ = ()

    def _attach(
        self, parent: TrackedMap | TrackedList | None, key: str | int | None, tracker: StateTracker
    ) -> None:
        self._parent = parent
        self._key = key
        self._tracker = tracker
        self._schema = None if parent is None else _child_schema(parent._schema, key)
        self._dnode = None
        self._dgen = -1

    def _detach(self) -> None:
        self._parent = None
        self._tracker = None

    def _dirty_node(self) -> DirtyNode | None:
        """This container's node in the current dirty tree (created on demand), or None when it
        is detached or will travel whole anyway."""
        tracker = self._tracker
        if tracker is None:
            return None
        if self._dgen != tracker.gen:
            parent = self._parent
            self._dnode = (
                tracker._dirty
                if parent is None
                else _child_node(parent._dirty_node(), self._key, type(self) is TrackedMap)
            )
            self._dgen = tracker.gen
        return self._dnode

    def _mark_replaced(self) -> None:
        """Resend this whole container (after a structural change a delta cannot express)."""
        parent = self._parent
        if parent is not None and self._tracker is not None:
            parent._mark(self._key)  # type: ignore[arg-type]
            self._dgen = -1  # the cached node is now an orphan: look again (finds None)


def _child_node(pnode: DirtyNode | None, key: Any, is_map: bool) -> DirtyNode | None:
    """The dirty node for ``key`` under ``pnode``, created on demand; None when that child travels
    whole anyway: its parent does, it is marked whole, or it lies at or past a list's tail."""
    if pnode is None:
        return None
    slots: dict[Any, Any]
    if isinstance(pnode, _ListDirty):
        if pnode.tail is not None and key >= pnode.tail:
            return None
        slots = pnode.items
    else:
        slots = pnode
    found = slots.get(key)
    if found is None:
        found = slots[key] = {} if is_map else _ListDirty()
    return None if found is True else found


def _child_schema(schema: SchemaNode | None, key: object) -> SchemaNode | None:
    return None if schema is None else schema.child(key)


def _normalize(owner: TrackedMap | TrackedList, key: str | int, value: Any) -> Any:
    """``value`` as it will be stored under ``owner[key]``: rounded to its declared precision,
    or copied into tracked containers. Raises StateError for values state cannot hold."""
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):
            raise StateError("state numbers must be finite")
    elif kind is int:
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise StateError("state integers must lie within 2**53-1")
    elif kind is str or kind is bool or value is None:
        return value
    elif isinstance(value, dict):
        tracker = owner._tracker
        made = TrackedMap()
        made._attach(owner, key, tracker)  # type: ignore[arg-type]
        for child_key, child in value.items():
            made._set_initial(child_key, child)
        return made
    elif isinstance(value, list | tuple):
        made_list = TrackedList()
        made_list._attach(owner, key, owner._tracker)  # type: ignore[arg-type]
        for child in value:
            made_list._append_initial(child)
        return made_list
    else:
        raise StateError(f"state cannot hold a {kind.__name__}")
    schema = owner._schema
    if schema is not None:
        precision = schema.precision(key)
        if precision is not None:
            return precision.normalize(value)
    return value


class TrackedMap(dict[str, Any], _Tracked):
    """A dict that records every change into its tracker. Keys must be strings.

    Assigning a dict or list stores a tracked *copy*: mutate it through the map afterwards
    (``state["players"][sid]["x"] = 3``), or keep the copy that ``put()`` returns.
    """

    __slots__ = ("_dgen", "_dnode", "_key", "_parent", "_schema", "_tracker")

    def _set_initial(self, key: str, value: Any) -> None:
        if type(key) is not str:
            raise StateError("state map keys must be strings")
        dict.__setitem__(self, key, _normalize(self, key, value))

    def _mark(self, key: str | int) -> None:
        tracker = self._tracker
        if tracker is None:
            return
        node = self._dnode if self._dgen == tracker.gen else self._dirty_node()
        if node is not None:
            node[key] = True  # type: ignore[index]

    def __setitem__(self, key: str, value: Any) -> None:
        if type(key) is not str:
            raise StateError("state map keys must be strings")
        kind = type(value)
        if kind is float or kind is int:  # the hot path: a number changes
            if kind is float:
                if not _isfinite(value):
                    raise StateError("state numbers must be finite")
            elif not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
                raise StateError("state integers must lie within 2**53-1")
            schema = self._schema
            relative = False
            if schema is not None:
                precision = schema.precisions.get(key) or schema.wildcard_precision
                if precision is not None:
                    value = precision.normalize(value)
                    relative = type(precision) is Quantized and precision.relative
            old = dict.get(self, key, _MISSING)
            if type(old) is type(value) and old == value:
                return
            if type(old) is TrackedMap or type(old) is TrackedList:
                old._detach()
            dict.__setitem__(self, key, value)
            tracker = self._tracker
            if tracker is not None:
                node = self._dnode if self._dgen == tracker.gen else self._dirty_node()
                if node is not None:
                    if not relative:
                        node[key] = True  # type: ignore[index]
                    elif key not in node:  # type: ignore[operator]
                        node[key] = _Was(old)  # type: ignore[index]
                        # ^ the value at the baseline: a PATCH sends the change since it
            return
        old = dict.get(self, key, _MISSING)
        if old is value and type(value) in _SCALARS:
            return
        value = _normalize(self, key, value)
        if old is not _MISSING:
            if type(old) is type(value) and type(value) in _SCALARS and old == value:
                return
            if isinstance(old, _Tracked):
                old._detach()
        dict.__setitem__(self, key, value)
        self._mark(key)

    def put(self, key: str, value: Any) -> Any:
        """Set ``key`` and return the stored value (the tracked copy, for a dict or list)."""
        self[key] = value
        return dict.__getitem__(self, key)

    def __delitem__(self, key: str) -> None:
        old = dict.pop(self, key)
        if isinstance(old, _Tracked):
            old._detach()
        self._mark(key)

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its value (``default`` if absent and given)."""
        if key in self:
            value = dict.__getitem__(self, key)
            del self[key]
            return value
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last inserted item."""
        if not self:
            raise KeyError("popitem(): dictionary is empty")
        key = next(reversed(self))
        return key, self.pop(key)

    def clear(self) -> None:
        """Remove every key."""
        for key in list(self):
            del self[key]

    def setdefault(self, key: str, default: Any = None) -> Any:
        """``self[key]``, first setting it to ``default`` if absent."""
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Set every key given, as ``dict.update`` does."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> TrackedMap:  # type: ignore[override,misc]
        self.update(other)
        return self

    def __reduce__(self) -> Any:
        return (dict, (to_plain(self),))


class TrackedList(list[Any], _Tracked):
    """A list that records every change into its tracker.

    Appends, pops from the end, ``clear()`` and element assignment travel as small list edits;
    inserting or deleting in the middle, sorting and reversing resend the whole list.
    """

    __slots__ = ("_dgen", "_dnode", "_key", "_parent", "_schema", "_tracker")

    def _append_initial(self, value: Any) -> None:
        list.append(self, _normalize(self, len(self), value))

    def _mark(self, index: int) -> None:
        tracker = self._tracker
        if tracker is None:
            return
        node = self._dnode if self._dgen == tracker.gen else self._dirty_node()
        if isinstance(node, _ListDirty):
            node.items[index] = True

    def _mark_tail(self, index: int) -> None:
        """Resend every item from ``index`` on. Shrinking marks the new length, growing marks
        the old one, so a tail (or the least tail of several ticks) never lies past the end."""
        tracker = self._tracker
        if tracker is None:
            return
        node = self._dnode if self._dgen == tracker.gen else self._dirty_node()
        if isinstance(node, _ListDirty):
            tail = node.tail
            node.tail = index if tail is None or index < tail else tail

    def _restructured(self) -> None:
        for index, child in enumerate(self):
            if isinstance(child, _Tracked):
                child._key = index
                child._dgen = -1
        self._mark_replaced()

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            replaced = list.__getitem__(self, index)
            fresh = [_normalize(self, 0, item) for item in value]
            list.__setitem__(self, index, fresh)  # may raise: detach only once it is done
            for old in replaced:
                if isinstance(old, _Tracked):
                    old._detach()
            self._restructured()
            return
        position = range(len(self))[index]
        old = list.__getitem__(self, position)
        value = _normalize(self, position, value)
        if type(old) is type(value) and type(value) in _SCALARS and old == value:
            return
        if isinstance(old, _Tracked):
            old._detach()
        list.__setitem__(self, position, value)
        self._mark(position)

    def __delitem__(self, index: Any) -> None:
        if not isinstance(index, slice) and range(len(self))[index] == len(self) - 1:
            self.pop()
            return
        for old in list.__getitem__(self, index) if isinstance(index, slice) else [self[index]]:
            if isinstance(old, _Tracked):
                old._detach()
        list.__delitem__(self, index)
        self._restructured()

    def append(self, value: Any) -> None:
        """Add ``value`` at the end (a cheap list edit)."""
        length = len(self)
        list.append(self, _normalize(self, length, value))
        self._mark_tail(length)

    def extend(self, values: Iterable[Any]) -> None:
        """Append each value."""
        for value in list(values):  # a copy first: ``items.extend(items)`` must end
            self.append(value)

    def __iadd__(self, values: Iterable[Any]) -> TrackedList:  # type: ignore[misc]
        self.extend(values)
        return self

    def __imul__(self, count: SupportsIndex) -> TrackedList:
        copies = [to_plain(item) for item in self] * count.__index__()
        self[:] = copies
        return self

    def insert(self, index: SupportsIndex, value: Any) -> None:
        """Insert ``value`` before ``index`` (at the end: a cheap edit; else resends the list)."""
        length = len(self)
        position = index.__index__()
        if position < 0:
            position = max(0, position + length)
        if position >= length:
            self.append(value)
            return
        list.insert(self, position, _normalize(self, position, value))
        self._restructured()

    def pop(self, index: SupportsIndex = -1) -> Any:
        """Remove and return the item at ``index`` (the last one: a cheap edit)."""
        position = range(len(self))[index]
        if position != len(self) - 1:
            value = list.pop(self, position)
            if isinstance(value, _Tracked):
                value._detach()
            self._restructured()
            return value
        value = list.pop(self)
        if isinstance(value, _Tracked):
            value._detach()
        self._mark_tail(position)
        return value

    def remove(self, value: Any) -> None:
        """Remove the first item equal to ``value``."""
        self.pop(list.index(self, value))

    def clear(self) -> None:
        """Remove every item (a cheap edit)."""
        for item in self:
            if isinstance(item, _Tracked):
                item._detach()
        list.clear(self)
        self._mark_tail(0)

    def sort(self, *args: Any, **kwargs: Any) -> None:
        """Sort in place (resends the list)."""
        list.sort(self, *args, **kwargs)
        self._restructured()

    def reverse(self) -> None:
        """Reverse in place (resends the list)."""
        list.reverse(self)
        self._restructured()

    def __reduce__(self) -> Any:
        return (list, (to_plain(self),))


def to_plain(value: Any) -> Any:
    """A deep copy of ``value`` made of plain dicts and lists (no tracking)."""
    if isinstance(value, dict):
        return {key: to_plain(child) for key, child in value.items()}
    if isinstance(value, list):
        return [to_plain(child) for child in value]
    return value


# -- the tracker ---------------------------------------------------------------------------------


class StateTracker:
    """The authoritative state of one room and the ring of its recent changes.

    Mutate ``state`` during a tick, then call ``commit(tick)``; after that, and before the next
    mutation, ``encode_full()`` and ``encode_delta(baseline)`` give the bodies of FULL_STATE and
    PATCH frames for that tick. A baseline older than the ring (``history`` commits) gives None:
    send a full state instead.
    """

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
        self.state = TrackedMap()
        self.state._attach(None, None, self)
        self.state._schema = self.schema.root if self.schema.fields else None
        self._pack = _pack_mixed if self.schema.root.has_float32 else _packb
        for key, value in (initial or {}).items():
            self.state._set_initial(key, value)
        self.tick = tick
        self.floor = tick
        self._ring: deque[tuple[int, dict[Any, Any]]] = deque()

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

    def rebase(self) -> None:
        """Make the current state the committed state of the current tick, forgetting every
        change and the ring (after setting up a fresh state, before anyone has a baseline)."""
        self._dirty = {}
        self.gen += 1
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
        tree: Any = None
        for tick, changes in self._ring:
            if tick > baseline:
                tree = changes if tree is None else _merge(tree, changes)
        return _map_delta(tree, self.state, self.state._schema)

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


class _F32Value(float):
    """A float that the encoder writes as a msgpack float32."""

    __slots__ = ()


def _wire_scalar(value: Any, schema: SchemaNode | None, key: object) -> Any:
    if schema is not None and (type(value) is float or type(value) is int):
        precision = schema.precision(key)
        if precision is not None:
            if isinstance(precision, Float32):
                return _F32Value(value)
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


_DELETE = [int(PatchOp.DELETE)]
_REPLACE = int(PatchOp.REPLACE)
_LIST = int(PatchOp.LIST)


def _entry(mark: Any, child: Any, schema: SchemaNode | None, key: str | int) -> Any:
    kind = type(child)
    if kind is TrackedMap:
        if type(mark) is dict:
            return _map_delta(mark, child, None if schema is None else schema.child(key))
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
    tree: dict[Any, Any], value: TrackedMap, schema: SchemaNode | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    get = dict.get
    for key, mark in tree.items():
        child = get(value, key, _MISSING)
        kind = type(child)
        if kind is float or kind is int:  # the hot path: a changed number
            if schema is not None:
                precision = schema.precisions.get(key) or schema.wildcard_precision
                if type(precision) is Float32:
                    child = _F32Value(child)
                elif type(precision) is Quantized:
                    child = precision.to_wire(child)
                    if precision.relative:
                        was = mark.value if type(mark) is _Was else None
                        if type(was) is float or type(was) is int:
                            child -= precision.to_wire(was)  # the change since the baseline
                        else:
                            child = [_REPLACE, child]  # no number at the baseline: whole value
            out[key] = child
        elif child is _MISSING:
            out[key] = _DELETE
        else:
            out[key] = _entry(mark, child, schema, key)
    return out


def _list_delta(mark: _ListDirty, value: TrackedList, schema: SchemaNode | None) -> list[Any]:
    length = len(value)
    tail = length if mark.tail is None else mark.tail
    entries: dict[int, Any] = {}
    for index, child_mark in mark.items.items():
        if index < tail:
            entries[index] = _entry(child_mark, value[index], schema, index)
    for index in range(tail, length):
        entries[index] = _entry(True, value[index], schema, index)
    return [_LIST, length, entries]


def _merge(older: Any, newer: Any) -> Any:
    """The union of two dirty nodes, as a new node (neither input is modified)."""
    if older is True or newer is True:
        return True
    if type(older) is _Was:
        return older if type(newer) is _Was else True  # keep the value at the older baseline
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
    if kind is _F32Value:
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


# -- the receiving side --------------------------------------------------------------------------


def decode_state(wire_state: object, schema: Schema | None = None) -> dict[str, Any]:
    """A plain state from a FULL_STATE's ``state`` field; PatchError if it is not valid state."""
    if type(wire_state) is not dict:
        raise PatchError("state must be a map")
    node = schema.root if schema is not None and schema.fields else None
    return _from_wire(wire_state, node, 0)  # type: ignore[no-any-return]


_MAX_DEPTH = 64


def _from_wire(value: Any, schema: SchemaNode | None, depth: int) -> Any:
    """A received map or list (the caller checked which) as plain state."""
    if depth > _MAX_DEPTH:
        raise PatchError("state is nested too deeply")
    if type(value) is dict:
        out: dict[str, Any] = {}
        for key, child in value.items():
            if type(key) is not str:
                raise PatchError("state map keys must be strings")
            out[key] = _child_from_wire(child, schema, key, depth)
        return out
    return [_child_from_wire(child, schema, index, depth) for index, child in enumerate(value)]


def _child_from_wire(value: Any, schema: SchemaNode | None, key: object, depth: int) -> Any:
    kind = type(value)
    if kind is dict or kind is list:
        return _from_wire(value, None if schema is None else schema.child(key), depth + 1)
    if kind is _F32Value:  # a delta handed over in-process, not through msgpack
        value, kind = float(value), float
    elif kind not in _SCALARS:
        raise PatchError(f"state cannot hold a {kind.__name__}")
    if schema is not None and (kind is int or kind is float):
        precision = schema.precision(key)
        if precision is not None:
            return precision.from_wire(value)
    return value


def apply_delta(
    state: dict[str, Any],
    delta: object,
    schema: Schema | None = None,
    changes: list[Path] | None = None,
) -> None:
    """Apply a PATCH's ``delta`` to ``state`` in place.

    ``changes``, when given, receives the path of every key set, deleted or edited. Raises
    PatchError when the delta does not fit the state; the state is then partly updated and must
    be replaced by a full state (reconnect, or wait for the next FULL_STATE).
    """
    node = schema.root if schema is not None and schema.fields else None
    _apply_map(state, delta, node, (), changes, 0)


def _apply_map(
    target: Any,
    delta: Any,
    schema: SchemaNode | None,
    path: Path,
    changes: list[Path] | None,
    depth: int,
) -> None:
    if type(target) is not dict:
        raise PatchError("a map delta needs a map")
    if type(delta) is not dict:
        raise PatchError("a delta must be a map")
    if depth > _MAX_DEPTH:
        raise PatchError("delta is nested too deeply")
    for key, entry in delta.items():
        if type(key) is not str:
            raise PatchError("state map keys must be strings")
        if type(entry) is list and entry == _DELETE and type(entry[0]) is int:
            target.pop(key, None)
            if changes is not None:
                changes.append((*path, key))
        else:
            _apply_entry(target, key, entry, schema, path, changes, depth)


def _apply_entry(
    target: Any,
    key: str | int,
    entry: Any,
    schema: SchemaNode | None,
    path: Path,
    changes: list[Path] | None,
    depth: int,
) -> None:
    kind = type(entry)
    child_schema = None if schema is None else schema.child(key)
    if kind is dict:
        current = target[key] if key in range(len(target)) or key in target else None
        _apply_map(current, entry, child_schema, (*path, key), changes, depth + 1)
        return
    if kind is list:
        if not entry or type(entry[0]) is not int:
            raise PatchError("unknown delta operation")
        op = entry[0]
        if op == PatchOp.REPLACE and len(entry) == 2:
            target[key] = _child_from_wire(entry[1], schema, key, depth)
        elif op == PatchOp.LIST and len(entry) == 3:
            current = target[key] if key in range(len(target)) or key in target else None
            _apply_list(current, entry[1], entry[2], child_schema, (*path, key), changes, depth)
            return
        else:
            raise PatchError("unknown delta operation")
    else:
        precision = None if schema is None else schema.precision(key)
        if type(precision) is Quantized and precision.relative and kind is int:
            current = target[key] if key in range(len(target)) or key in target else None
            if type(current) is not float and type(current) is not int:
                raise PatchError("a relative change needs a number to change")
            target[key] = (precision.to_wire(current) + entry) * precision.step
        else:
            target[key] = _child_from_wire(entry, schema, key, depth)
    if changes is not None:
        changes.append((*path, key))


def _apply_list(
    target: Any,
    length: Any,
    entries: Any,
    schema: SchemaNode | None,
    path: Path,
    changes: list[Path] | None,
    depth: int,
) -> None:
    if type(target) is not list:
        raise PatchError("a list delta needs a list")
    if type(length) is not int or not 0 <= length <= MAX_SAFE_INT or type(entries) is not dict:
        raise PatchError("a list delta is [2, length, {index: entry}]")
    old_length = len(target)
    if length > old_length + len(entries):
        raise PatchError("a list delta must give every new item")
    if length < old_length:
        del target[length:]
    else:
        target.extend([_MISSING] * (length - old_length))
    for index, entry in entries.items():
        if type(index) is not int or not 0 <= index < length:
            raise PatchError("list delta index out of range")
        if target[index] is _MISSING and (type(entry) is dict or _is_list_edit(entry)):
            raise PatchError("a new list item must be a whole value")
        _apply_entry(target, index, entry, schema, path, changes, depth + 1)
    if _MISSING in target[old_length:]:
        raise PatchError("a list delta must give every new item")
    if changes is not None and length != old_length:
        changes.append(path)


def _is_list_edit(entry: Any) -> bool:
    return type(entry) is list and bool(entry) and entry[0] == PatchOp.LIST


# -- the canonical hash --------------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_canonical(child) for child in value]
    if type(value) is float and value.is_integer() and abs(value) <= MAX_SAFE_INT:
        return int(value)
    return value


def state_hash(state: dict[str, Any]) -> str:
    """The canonical hash of a state: SHA-256 over msgpack with map keys sorted and integral
    floats written as integers, first 16 hex digits. Equal states hash equal on every side."""
    canonical = _packb(_canonical(state))
    return hashlib.sha256(canonical).hexdigest()[:16]


def iter_paths(state: dict[str, Any]) -> Iterator[Path]:
    """Every leaf path in ``state`` (for tests and debugging tools)."""
    stack: list[tuple[Path, Any]] = [((), state)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(((*path, key), child) for key, child in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, index), child) for index, child in enumerate(value))
        else:
            yield path
