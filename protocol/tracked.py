"""Tracked containers: dicts and lists that record every write into their tracker's dirty tree.

``TrackedMap`` (a ``dict``) and ``TrackedList`` (a ``list``) are what room state is made of, so
game code reads them at C speed and writes them like any dict or list. Each write marks, in the
current tick's *dirty tree*, what it touched: ``True`` for a key to resend whole, a nested dict for
a map changed in place, a ``_ListDirty`` for a list edited in place, and for a relative
quantised number its value at the baseline (a plain int or float: ``True``, a bool, never
stands for a number here). ``protocol.diff.StateTracker`` owns the tree and renders it into
deltas.

Must never: encode, decode, or know about connections; values are normalised here (declared
precision applied, containers copied into tracked ones) and refused with StateError when state
cannot hold them.

A map's write has a C twin in ``protocol._native`` (see ``protocol.native``): the commonest
write, a number into a map, then costs no Python call. ``_map_setitem`` below stays the
definition; the C code mirrors its fast path and calls it for everything else.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, SupportsIndex

from protocol.errors import StateError
from protocol.native import native as _native
from protocol.schema import Quantized, SchemaNode

if TYPE_CHECKING:
    from protocol.diff import StateTracker

MAX_SAFE_INT = 2**53 - 1
_isfinite = math.isfinite
_MISSING: Any = object()
_dict_get = dict.get
_dict_set = dict.__setitem__
_SCALARS = frozenset({type(None), bool, int, float, str})
Path = tuple[str | int, ...]


class _ListDirty:
    """Dirty node of a list: ``items`` touched in place; every index >= ``tail`` resent whole."""

    __slots__ = ("items", "tail")

    def __init__(self) -> None:
        self.items: dict[int, Any] = {}
        self.tail: int | None = None


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
        gen = tracker.gen
        if self._dgen != gen:
            parent = self._parent
            if parent is None:
                self._dnode = tracker._dirty
            else:  # the parent's node is usually made already this tick: skip the call
                pnode = parent._dnode if parent._dgen == gen else parent._dirty_node()
                self._dnode = _child_node(pnode, self._key, type(self) is TrackedMap)
            self._dgen = gen
            tracker._cached.append(self)  # the commit lets go of it (and the tree with it)
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


def _map_setitem(self: TrackedMap, key: str, value: Any) -> None:
    """``self[key] = value``: normalise, store, and mark the change in the dirty tree."""
    if type(key) is not str:
        raise StateError("state map keys must be strings")
    kind = type(value)
    if kind is float or kind is int:  # the hot path: a number changes
        schema = self._schema
        precision = (
            None if schema is None else schema.precisions.get(key) or schema.wildcard_precision
        )
        if type(precision) is Quantized and (
            -precision.fast_limit <= value <= precision.fast_limit  # finite, in range
        ):
            step = precision.step
            value = round(value / step) * step
            relative = precision.relative
        else:
            if kind is float:
                if not _isfinite(value):
                    raise StateError("state numbers must be finite")
            elif not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
                raise StateError("state integers must lie within 2**53-1")
            relative = False
            if precision is not None:
                value = precision.normalize(value)  # raises the proper StateError
                relative = type(precision) is Quantized and precision.relative
        old = _dict_get(self, key, _MISSING)
        if type(old) is type(value) and old == value:
            return
        if type(old) is TrackedMap or type(old) is TrackedList:
            old._detach()
        _dict_set(self, key, value)
        tracker = self._tracker
        if tracker is not None:
            node = self._dnode if self._dgen == tracker.gen else self._dirty_node()
            if node is not None:
                if not relative:
                    node[key] = True  # type: ignore[index]
                elif key not in node:  # type: ignore[operator]
                    # The number at the baseline (a PATCH sends the change since it); True
                    # when there was none (the value then travels whole).
                    old_kind = type(old)
                    node[key] = old if old_kind is float or old_kind is int else True  # type: ignore[index]
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


def _map_delitem(self: TrackedMap, key: str) -> None:
    """``del self[key]``: detach the old value and mark the key."""
    old = dict.pop(self, key)
    if isinstance(old, _Tracked):
        old._detach()
    self._mark(key)


if TYPE_CHECKING:
    _MapBase = dict[str, Any]
elif _native is None:
    _MapBase = dict
else:  # a dict subclass with the six attributes in C and a C __setitem__
    _MapBase = _native.MapBase


class TrackedMap(_MapBase, _Tracked):
    """A dict that records every change into its tracker. Keys must be strings.

    Assigning a dict or list stores a tracked *copy*: mutate it through the map afterwards
    (``state["players"][sid]["x"] = 3``), or keep the copy that ``put()`` returns.
    """

    __slots__ = (
        ("_dgen", "_dnode", "_key", "_parent", "_schema", "_tracker") if _native is None else ()
    )

    if TYPE_CHECKING or _native is None:  # else the C base's own __setitem__ runs
        __setitem__ = _map_setitem
        __delitem__ = _map_delitem

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

    def put(self, key: str, value: Any) -> Any:
        """Set ``key`` and return the stored value (the tracked copy, for a dict or list)."""
        self[key] = value
        return dict.__getitem__(self, key)

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


if _native is not None:  # the C write calls back into this module; tell it where
    _native.configure(TrackedMap, TrackedList, _ListDirty, Quantized, _map_setitem, _map_delitem)
