"""``python -m clients.python.bots``: see ``clients.python.bots.cli``."""

import sys

from clients.python.bots.cli import main

if __name__ == "__main__":
    sys.exit(main())
