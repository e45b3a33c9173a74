"""Message and request handlers declared on a Room, and their payload validation.

    class Lobby(Room):
        @message("chat")
        def chat(self, client: Client, payload: ChatLine) -> None: ...

        @request("buy")
        def buy(self, client: Client, payload: Purchase) -> dict[str, int]: ...

The payload model comes from ``model=`` or from the handler's annotation of its payload
parameter when that is a pydantic model; other payloads arrive as plain data. An invalid payload
never reaches the handler: the client gets an ERROR (or a failed RESPONSE) with INVALID_PAYLOAD.

Must never: do I/O, or call handlers (the room does, inside its tick).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """One declared handler: its message kind, whether it answers requests, its model."""

    kind: str | int
    is_request: bool
    model: type[BaseModel] | None
    function_name: str


def _mark(kind: str | int, is_request: bool, model: type[BaseModel] | None) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        specs: list[HandlerSpec] = function.__dict__.setdefault("__tickroom_handlers__", [])
        specs.append(
            HandlerSpec(kind, is_request, model or _annotated_model(function), function.__name__)
        )
        return function

    return decorate


def message(kind: str | int, *, model: type[BaseModel] | None = None) -> Callable[[F], F]:
    """Declare a room method as the handler of application messages of ``kind``."""
    return _mark(kind, False, model)


def request(kind: str | int, *, model: type[BaseModel] | None = None) -> Callable[[F], F]:
    """Declare a room method as the handler of requests of ``kind``; its return value (plain
    data) is the response, and ``RequestRefusedError`` answers with an error code."""
    return _mark(kind, True, model)


def _annotated_model(function: Callable[..., Any]) -> type[BaseModel] | None:
    parameters = list(inspect.signature(function).parameters.values())
    if len(parameters) < 3:
        return None
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # unresolved forward references: no model
        return None
    hint = hints.get(parameters[2].name)
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return hint
    return None


def collect_handlers(cls: type) -> dict[tuple[bool, str | int], HandlerSpec]:
    """Every handler declared on ``cls`` and its bases, keyed by (is_request, kind)."""
    found: dict[tuple[bool, str | int], HandlerSpec] = {}
    for klass in reversed(cls.__mro__):
        for value in vars(klass).values():
            for spec in getattr(value, "__tickroom_handlers__", ()):
                found[(spec.is_request, spec.kind)] = spec
    return found


def validate(model: type[BaseModel] | None, payload: Any) -> Any:
    """``payload`` validated into ``model`` (or as is when there is none).

    Raises ValueError with a short client-safe message when it does not validate.
    """
    if model is None:
        return payload
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "payload"
        raise ValueError(f"invalid payload at {where}: {first.get('msg', 'invalid')}") from None
