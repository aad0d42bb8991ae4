"""``python -m vaeframe`` is the ``vaeframe`` command."""

import sys

from vaeframe.cli.app import main

if __name__ == "__main__":  # not when a spawned worker process imports it
    sys.exit(main())
