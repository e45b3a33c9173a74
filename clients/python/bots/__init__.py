"""The bot runner and load tester: ``python -m clients.python.bots`` or ``tickroom-bots``.

    from clients.python.bots import BotConfig, BotRunner

    report = await BotRunner(BotConfig(url, rooms=2, players=3, duration=3)).run()
    print(report.text())

Modules: ``runner`` (joining and playing), ``strategies`` (what bots send), ``report`` (what is
measured), ``cli`` (the command line and the bench driver's contract).
"""

from clients.python.bots.report import BotReport, Histogram, RunTotals
from clients.python.bots.runner import BotConfig, BotRunner
from clients.python.bots.strategies import RandomWalk, Scripted, Step, Strategy, load_strategy

__all__ = [
    "BotConfig",
    "BotReport",
    "BotRunner",
    "Histogram",
    "RandomWalk",
    "RunTotals",
    "Scripted",
    "Step",
    "Strategy",
    "load_strategy",
]
