"""A project's selftest configuration: where it lives, what it says, and what a run decides.

``project`` (rootdir, ini keys, state-file paths), ``pyproject`` (reading ``pyproject.toml`` and
``pytest.ini``, key line numbers), ``validate`` (the one validation every entry point shares),
``errors`` (the one error type), ``run`` (what a pytest run decides before it starts) and
``failure`` (the CONFIG_ERROR report). Nothing is imported here, so that light callers (the
smoke, the policy) load only the modules they use.
"""
