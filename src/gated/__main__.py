"""`python -m gated ...`: the `gated` command (see `gated.cli`)."""

import sys

from gated.cli import main

if __name__ == "__main__":
    sys.exit(main())
