"""Ctrl-C that waits for the end of a training step.

A ``KeyboardInterrupt`` raised in the middle of TensorFlow's Python code (a summary write, a
tensor conversion) can leave its C++ state half-updated, and the process may then crash
(SIGSEGV) while unwinding instead of saving and exiting. Inside ``stop_at_step_end`` the first
Ctrl-C (or SIGTERM, how job schedulers stop a job) only records the request; the training loop
stops after the current step, saves and exits. A second one raises ``KeyboardInterrupt`` (for
SIGTERM ``Terminated``) at once, as without it.

``terminate_as_interrupt`` makes SIGTERM (how job schedulers stop a job) raise ``Terminated``,
a ``KeyboardInterrupt``, so a command saves what it has as it does on Ctrl-C.
"""

import contextlib
import signal
import sys
import threading

from tf_fastls0.utils.cli import Terminated


class StopRequest:
    """Whether Ctrl-C was pressed (or SIGTERM received) inside ``stop_at_step_end``."""

    def __init__(self):
        self.requested = False
        self.terminated = False  # the request came by SIGTERM

    def interrupt(self):
        """What stops the run: ``KeyboardInterrupt`` for Ctrl-C, ``Terminated`` for SIGTERM."""
        return Terminated() if self.terminated else KeyboardInterrupt()


@contextlib.contextmanager
def stop_at_step_end(notice):
    """Yields a ``StopRequest``; the first Ctrl-C or SIGTERM sets it and prints ``notice``.
    Signal handlers can only be set from the main thread: elsewhere both keep their usual
    behaviour."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handle(signum, frame):
        if request.requested:
            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        request.requested = True
        request.terminated = signum == signal.SIGTERM
        print(notice, file=sys.stderr, flush=True)

    previous = {number: signal.signal(number, handle)
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def terminate_as_interrupt():
    """Inside it, SIGTERM raises ``Terminated`` (a ``KeyboardInterrupt``) in the main thread;
    elsewhere, and after it, SIGTERM keeps its usual behaviour."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def deferred_interrupts():
    """Ctrl-C and SIGTERM wait until the block ends, then interrupt as they would have: for a
    short call into TensorFlow, where an interrupt raised inside its C++ code (a SavedModel's
    input flattening) comes out as an unrelated ``TypeError``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = {number: signal.signal(number, lambda signum, frame: received.append(signum))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if received:
        raise Terminated if received[0] == signal.SIGTERM else KeyboardInterrupt
