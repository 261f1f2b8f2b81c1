"""Child processes with a log file and a shared deadline.

Each command's output is appended to a log file. A command still running at the deadline is sent
SIGTERM (SIGKILL after a grace period): the trainer and the evaluator both keep their progress in
atomically written checkpoints/state, so the next invocation picks up where this one stopped.
"""

import os
import signal
import subprocess
import sys
import time
from typing import NamedTuple, Optional

GRACE_SECONDS = 30.0


class Outcome(NamedTuple):
    returncode: Optional[int]  # None when stopped at the deadline
    seconds: float

    @property
    def timed_out(self):
        return self.returncode is None

    @property
    def ok(self):
        return self.returncode == 0


class Deadline:
    """Seconds left before this invocation must stop (no limit when ``seconds`` is None)."""

    def __init__(self, seconds=None):
        self._end = None if seconds is None else time.monotonic() + seconds

    def remaining(self):
        return None if self._end is None else max(0.0, self._end - time.monotonic())

    def passed(self):
        return self._end is not None and time.monotonic() >= self._end


def python_module(module, argv):
    return [sys.executable, "-m", module, *argv]


def run_logged(command, log_path, deadline, env=None):
    """Runs ``command`` to its end or the deadline; returns its ``Outcome``."""
    return run_parallel([command], [log_path], deadline, [env])[0]


def run_parallel(commands, log_paths, deadline, envs=None):
    """Runs ``commands`` side by side (e.g. evaluation shards, one per GPU); their ``Outcome``s."""
    envs = envs or [None] * len(commands)
    started = time.monotonic()
    processes = [_start(command, log_path, env)
                 for command, log_path, env in zip(commands, log_paths, envs)]
    try:
        outcomes = []
        for process in processes:
            returncode = _wait(process, deadline)
            outcomes.append(Outcome(returncode, time.monotonic() - started))
        return outcomes
    finally:  # Ctrl-C or an error here: stop every child we started, by its own process group
        for process in processes:
            if process.poll() is None:
                _stop(process)


def _start(command, log_path, env):
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    with open(log_path, "a") as log:
        log.write(f"\n$ {' '.join(command)}\n")
        log.flush()
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1",
                       **(env or {})}
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment,
                                start_new_session=True)


def _wait(process, deadline):
    try:
        return process.wait(timeout=deadline.remaining())
    except subprocess.TimeoutExpired:
        _stop(process)
        return None


def _stop(process):
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait()


def _signal_group(process, signum):
    try:
        os.killpg(process.pid, signum)  # the group this child leads (start_new_session)
    except ProcessLookupError:
        pass


def log_tail(log_path, lines=15):
    try:
        with open(log_path) as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return ""
