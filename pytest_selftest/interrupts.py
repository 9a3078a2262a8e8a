"""Making SIGTERM (and an inherited, ignored SIGINT) end a run the way Ctrl-C does.

pytest handles only SIGINT. A CI runner cancelling a job sends SIGTERM, and a process started in
the background inherits SIGINT ignored; execnet stops a busy xdist worker with SIGINT. Without
these handlers such a run leaves no report, or a worker whose step keeps running.
"""

from __future__ import annotations

import signal
import threading
from typing import Any


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"selftest: received signal {signum}")


def install() -> dict[int, Any]:
    """Install the handlers (main thread only); return the previous ones for :func:`restore`."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous: dict[int, Any] = {signal.SIGTERM: signal.signal(signal.SIGTERM, _interrupt)}
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    return previous


def restore(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
