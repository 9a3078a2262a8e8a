"""The test suite's shared setup, for every folder under tests/ (fixtures live in tests/conftest.py).

pytester builds the throwaway repositories most tests run in. The plugin under test stays out of
the outer run (``-p no:selftest`` in addopts) and is loaded only inside pytester's runs, so the
suite never writes this repository's own state files.
"""

pytest_plugins = ["pytester"]
