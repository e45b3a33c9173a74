"""bench/callback_split.py: the wrappers count time, and the sum-up divides it right."""

from __future__ import annotations

import io
import time

import pytest

from bench.callback_split import PARTS, Split, print_summary, summary


def line(t: int, cpu: float, ticks: int, **spent: float) -> dict[str, object]:
    return {
        "t": t,
        "cpu": cpu,
        "ticks": ticks,
        "clients": 1000,
        "rooms": 100,
        **dict.fromkeys(PARTS, 0.0),
        **spent,
    }


def test_a_wrapper_adds_its_callback_time_to_its_part_and_returns_its_result() -> None:
    class Thing:
        def work(self, seconds: float) -> str:
            time.sleep(seconds)
            return "done"

    split = Split()
    split.wrap(Thing, "work", "tick")
    assert Thing().work(0.01) == "done"
    assert 0.009 < split.spent["tick"] < 0.5
    assert split.spent["receive"] == 0.0


def test_the_summary_gives_microseconds_per_client_tick_of_each_part() -> None:
    lines = [line(0, 0.0, 0)] + [
        line(
            second,
            0.5 * second,
            2000 * second,
            receive=0.05 * second,
            tick=0.3 * second,
            update=0.1 * second,
            publish=0.15 * second,
        )
        for second in range(1, 12)
    ]
    per = summary(lines, skip=1, seconds=10)
    # 10 s of 2000 room ticks a second, 10 clients a room: 200,000 client-ticks
    assert per["client_ticks"] == pytest.approx(200_000)
    assert per["cpu"] == pytest.approx(25.0)
    assert per["receive"] == pytest.approx(2.5)
    assert per["tick"] == pytest.approx(15.0)
    assert per["rest of the tick"] == pytest.approx(15.0 - 5.0 - 7.5)
    assert per["outside"] == pytest.approx(25.0 - 2.5 - 15.0)
    out = io.StringIO()
    print_summary(per, out)
    assert "all of the server's CPU" in out.getvalue()
    assert "25.00" in out.getvalue()


def test_the_summary_refuses_a_file_too_short_or_a_window_without_ticks() -> None:
    with pytest.raises(SystemExit):
        summary([line(0, 0.0, 0)], skip=8, seconds=20)
    with pytest.raises(SystemExit):
        summary([line(0, 0.0, 5), line(1, 1.0, 5)], skip=0, seconds=1)
