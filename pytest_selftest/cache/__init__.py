"""The step result cache (SPEC §15): a step whose inputs did not change since it passed is not
run again. Pure of pytest; the plugin and the ``selftest cache``/``plan --cache`` commands use it.

- :mod:`.inputs`: which files a step's ``inputs`` globs name (and the inputs a built-in check
  derives from its parameters);
- :mod:`.fingerprint`: hashing those files through a per-checkout stat cache, and the key;
- :mod:`.store`: the content-addressed store of passing results and their outputs;
- :mod:`.lookup`: one step's decision (hit, miss, off, uncacheable) and storing a fresh pass;
- :mod:`.why`: what changed since a step's last stored entry.
"""
