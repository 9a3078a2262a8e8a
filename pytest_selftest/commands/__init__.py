"""Sub-commands of the ``selftest`` console script, one module each (see ``cli.py``)."""
