"""Command line entry point: `python -m connectors ...`."""

import sys

from connectors.cli import main

sys.exit(main())
