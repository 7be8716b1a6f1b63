"""`python -m server` is the `costream` command."""

from server.cli import main

raise SystemExit(main())
