"""``tune_gc``: the run command's garbage-collector settings, restored after each test."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from game_server.serve import tune_gc
from game_server.settings import Settings


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_tune_gc_freezes_startup_objects_and_raises_the_youngest_threshold() -> None:
    older = gc.get_threshold()[1:]
    tune_gc(12_345)
    assert gc.get_threshold() == (12_345, *older)
    assert gc.get_freeze_count() > 0


def test_tune_gc_zero_leaves_the_collector_alone() -> None:
    before = gc.get_threshold()
    tune_gc(0)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_default_threshold_is_tuned() -> None:
    assert Settings().gc_threshold == 50_000
