"""``python -m vaeframe`` is the ``vaeframe`` command."""

import sys

from vaeframe.cli import main

sys.exit(main())
