"""Fixtures shared by the whole suite.

The ``simulation`` fixture (a factory of headless ``Simulation`` objects) and ``manual_clock``
come from the public pytest plugin ``game_server.testing``, which game authors enable the same
way in their own ``conftest.py``.
"""

pytest_plugins = ["game_server.testing"]
