"""The frozen bundles' entry point: the ``stemloom`` command."""

import sys

from stemloom.cli import main

if __name__ == "__main__":
    sys.exit(main())
