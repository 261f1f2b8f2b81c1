"""One command at a time per output folder: a lock held for as long as the command runs.

The lock is ``fcntl.flock`` on ``<folder>/.tf_fastls0.lock``. The kernel drops it when the holding
process ends, however it ends, so the lock of a killed process is stale by construction: the next
command takes it over. The file names the holder (pid, host, command) for the refusal message.
The lock file is removed on release, and a folder the lock had to create is removed again if
nothing was written into it, so a command that stops early leaves the folder as it found it.
"""

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
import sys

from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.output_paths import environment_errors, reason

LOCK_FILE = ".tf_fastls0.lock"
_RETRIES = 5  # a lock file unlinked by its releasing holder between our open and our flock


class FolderBusy(UsageError):
    """Another live process holds the folder's lock."""


@contextlib.contextmanager
def hold_run_lock(folder):
    """Creates ``folder`` if needed and locks it for this process; ``FolderBusy`` if another
    process holds it."""
    folder = os.path.abspath(folder)
    created = _missing_folders(folder)
    with environment_errors(folder, "create"):
        os.makedirs(folder, exist_ok=True)
    try:
        path = os.path.join(folder, LOCK_FILE)
        descriptor = _acquire(path, folder)
        try:
            _write_holder(descriptor)
            yield
        finally:
            _release(descriptor, path)
    finally:
        for made in created:  # deepest first; a folder with anything in it stays
            with contextlib.suppress(OSError):
                os.rmdir(made)


def holder_of(folder):
    """The lock file's ``{"pid", "host", "command", "since"}``, or {} if there is none."""
    try:
        with open(os.path.join(folder, LOCK_FILE)) as handle:
            holder = json.load(handle)
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _acquire(path, folder):
    for _ in range(_RETRIES):
        with environment_errors(path, "create"):
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(descriptor)
            if error.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise FolderBusy(_busy_message(folder)) from None
            raise UsageError(f"cannot lock {folder}: {reason(error)}") from None
        if _same_file(descriptor, path):
            return descriptor
        os.close(descriptor)  # we locked a file its holder had just unlinked: try the new one
    raise FolderBusy(_busy_message(folder))


def _same_file(descriptor, path):
    try:
        on_disk = os.stat(path)
    except OSError:
        return False
    held = os.fstat(descriptor)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _write_holder(descriptor):
    holder = {"pid": os.getpid(), "host": socket.gethostname(),
              "command": " ".join([os.path.basename(sys.executable), *sys.argv])[:300],
              "since": datetime.datetime.now().isoformat(timespec="seconds")}
    os.ftruncate(descriptor, 0)
    os.write(descriptor, json.dumps(holder).encode())


def _release(descriptor, path):
    try:
        if _same_file(descriptor, path):
            os.remove(path)  # while still locked, so nobody takes over a file about to vanish
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _busy_message(folder):
    holder = holder_of(folder)
    if not holder:
        return (f"{folder} is in use by another tf_fastls0 command; wait for it to end or "
                "choose another --output_dir")
    where = "" if holder.get("host") == socket.gethostname() else f" on {holder.get('host')}"
    return (f"{folder} is in use by process {holder.get('pid')}{where} ({holder.get('command')}, "
            f"since {holder.get('since')}); wait for it to end or choose another --output_dir")


def _missing_folders(folder):
    """The folders ``os.makedirs(folder)`` will create, deepest first."""
    missing = []
    while not os.path.exists(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return missing
