"""``python -m bench``: the whole benchmark (see :mod:`bench.run`)."""

from bench.run import main

raise SystemExit(main())
