"""The Min Plan benchmark: synthetic sources, bare yardsticks, load, and the runner.

``scripts/bench`` (or ``.venv/bin/python -m bench``) runs it; see ``bench/README.md``.
"""
