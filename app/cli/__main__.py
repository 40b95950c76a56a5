"""`python -m app.cli` runs the `countersign` command."""

import sys

from app.cli import main

sys.exit(main())
