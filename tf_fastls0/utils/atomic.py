"""Write-then-rename, so a crash never leaves a half-written file or folder under the final name.

A kill between the steps leaves ``<name>.tmp-<pid>`` (a half-written new version) or, while a
folder is being replaced, ``<name>.old-<pid>`` (the previous version); ``clean_temporaries``, run
by the next command that locks the folder, removes the first and puts the second back.
"""

import contextlib
import json
import os
import re
import shutil

_TEMPORARY = re.compile(r"^(?P<final>.+)\.(?P<kind>tmp|old)-\d+(\.keras)?$")


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


def final_name(name):
    """The name ``atomic_path`` was writing if ``name`` is one of its temporaries, else None."""
    match = _TEMPORARY.match(name)
    return match["final"] if match else None


def clean_temporaries(folder, finals=None):
    """Removes what killed writes left in ``folder`` (not below it), only those of ``finals`` if
    given; returns the names removed. Call it only while holding the folder's lock, so no live
    writer is interrupted."""
    removed = []
    for name in sorted(os.listdir(folder)):
        match = _TEMPORARY.match(name)
        if not match or (finals is not None and match["final"] not in finals):
            continue
        path, final = os.path.join(folder, name), os.path.join(folder, match["final"])
        if match["kind"] == "old" and not os.path.exists(final):
            os.replace(path, final)  # killed between the two renames: the old version is the one
            continue
        _remove(path)
        removed.append(name)
    return removed
