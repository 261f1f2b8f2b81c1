"""Ctrl-C that waits for the end of a training step.

A ``KeyboardInterrupt`` raised in the middle of TensorFlow's Python code (a summary write, a
tensor conversion) can leave its C++ state half-updated, and the process may then crash
(SIGSEGV) while unwinding instead of saving and exiting. Inside ``stop_at_step_end`` the first
Ctrl-C only records the request; the training loop stops after the current step, saves and
exits. A second Ctrl-C raises ``KeyboardInterrupt`` at once, as without it.
"""

import contextlib
import signal
import sys
import threading


class StopRequest:
    """Whether Ctrl-C was pressed inside ``stop_at_step_end``."""

    def __init__(self):
        self.requested = False


@contextlib.contextmanager
def stop_at_step_end(notice):
    """Yields a ``StopRequest``; the first Ctrl-C sets it and prints ``notice``. Signal handlers
    can only be set from the main thread: elsewhere Ctrl-C keeps its usual behaviour."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handle(signum, frame):
        if request.requested:
            raise KeyboardInterrupt
        request.requested = True
        print(notice, file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield request
    finally:
        signal.signal(signal.SIGINT, previous)
