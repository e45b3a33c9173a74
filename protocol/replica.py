"""The receiving side of state: full states and deltas applied to plain data, and the hash.

``decode_state`` turns a FULL_STATE's ``state`` into plain dicts and lists (declared precision
applied); ``apply_delta`` applies a PATCH's ``delta`` in place, following the grammar in
protocol/diff.py and docs/protocol.md; ``state_hash`` is the canonical hash both ends compare.

Must never: trust what it is given. Anything that does not fit raises PatchError.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import msgpack

from protocol.codes import PatchOp
from protocol.errors import PatchError
from protocol.schema import Float32Value, Quantized, Schema, SchemaNode
from protocol.tracked import _MISSING, _SCALARS, MAX_SAFE_INT, Path

_packb = msgpack.Packer(autoreset=True, use_bin_type=True).pack
DELETE_ENTRY = [int(PatchOp.DELETE)]
"""The delta entry that deletes a key."""
_NOT_A_FIELD = "__proto__"
"""A key JavaScript receivers cannot hold as a plain property: never a group's field name (the
encoder sends such a key in nested deltas instead, where a JavaScript decoder refuses it)."""


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
    if kind is Float32Value:  # a delta handed over in-process, not through msgpack
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
        if type(entry) is list and entry == DELETE_ENTRY and type(entry[0]) is int:
            target.pop(key, None)
            if changes is not None:
                changes.append((*path, key))
        else:
            _apply_entry(target, key, entry, schema, path, changes, depth)


def _apply_groups(
    target: Any,
    groups: list[Any],
    schema: SchemaNode | None,
    path: Path,
    changes: list[Path] | None,
    depth: int,
) -> None:
    """Apply each group ``[[field, ...], key, entry, ..., key, entry, ...]`` of a map edit or a
    list edit: the nested delta ``{field: entry, ...}`` to the map at each key of ``target``."""
    is_list = type(target) is list
    for group in groups:
        if type(group) is not list or not group or type(group[0]) is not list:
            raise PatchError("a group is [[field, ...], key, entry, ...]")
        fields = group[0]
        width = len(fields) + 1
        if (
            not fields
            or any(type(field) is not str or field == _NOT_A_FIELD for field in fields)
            or len(set(fields)) != len(fields)
            or (len(group) - 1) % width
        ):
            raise PatchError("a group needs distinct field names and one entry per field")
        for start in range(1, len(group), width):
            key = group[start]
            if is_list:
                if type(key) is not int or not 0 <= key < len(target):
                    raise PatchError("group index out of range")
                child = target[key]
            else:
                if type(key) is not str:
                    raise PatchError("state map keys must be strings")
                child = target.get(key)
            delta = dict(zip(fields, group[start + 1 : start + width], strict=True))
            child_schema = None if schema is None else schema.child(key)
            _apply_map(child, delta, child_schema, (*path, key), changes, depth + 1)


def _current(target: Any, key: str | int) -> Any:
    """What ``target`` (a map or a list) holds at ``key``, or None when it holds nothing."""
    return target[key] if key in range(len(target)) or key in target else None


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
        current = _current(target, key)
        _apply_map(current, entry, child_schema, (*path, key), changes, depth + 1)
        return
    if kind is list:
        if not entry or type(entry[0]) is not int:
            raise PatchError("unknown delta operation")
        op = entry[0]
        if op == PatchOp.REPLACE and len(entry) == 2:
            target[key] = _child_from_wire(entry[1], schema, key, depth)
        elif op == PatchOp.LIST and len(entry) >= 3:
            current = _current(target, key)
            _apply_list(current, entry[1], entry[2], child_schema, (*path, key), changes, depth)
            _apply_groups(current, entry[3:], child_schema, (*path, key), changes, depth + 1)
            return
        elif op == PatchOp.MAP and len(entry) >= 3:
            current = _current(target, key)
            _apply_map(current, entry[1], child_schema, (*path, key), changes, depth + 1)
            _apply_groups(current, entry[2:], child_schema, (*path, key), changes, depth + 1)
            return
        else:
            raise PatchError("unknown delta operation")
    else:
        precision = None if schema is None else schema.precision(key)
        if type(precision) is Quantized and precision.relative and kind is int:
            current = _current(target, key)
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
        if target[index] is _MISSING and (type(entry) is dict or _is_edit(entry)):
            raise PatchError("a new list item must be a whole value")
        _apply_entry(target, index, entry, schema, path, changes, depth + 1)
    if _MISSING in target[old_length:]:
        raise PatchError("a list delta must give every new item")
    if changes is not None and length != old_length:
        changes.append(path)


def _is_edit(entry: Any) -> bool:
    """Whether ``entry`` edits something in place (a list edit or a map edit)."""
    return type(entry) is list and bool(entry) and entry[0] in (PatchOp.LIST, PatchOp.MAP)


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
