"""Write-then-rename, so a crash never leaves a half-written file or folder under the final name."""

import contextlib
import json
import os
import shutil


@contextlib.contextmanager
def atomic_path(final_path):
    """Yields a temporary path beside ``final_path``; on success it replaces ``final_path``."""
    final_path = os.path.normpath(final_path)
    temporary = f"{final_path}.tmp-{os.getpid()}"
    _remove(temporary)
    try:
        yield temporary
        if os.path.isdir(temporary) and os.path.exists(final_path):
            previous = f"{final_path}.old-{os.getpid()}"
            os.replace(final_path, previous)
            os.replace(temporary, final_path)
            _remove(previous)
        else:
            os.replace(temporary, final_path)
    finally:
        _remove(temporary)


def write_json(path, payload):
    with atomic_path(path) as temporary:
        with open(temporary, "w") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True, default=str)
            handle.write("\n")


def _remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
