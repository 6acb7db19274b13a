"""``python -m stemloom`` runs the CLI."""

from stemloom.cli import main

raise SystemExit(main())
