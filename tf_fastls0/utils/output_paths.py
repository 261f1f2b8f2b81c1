"""Output paths checked before any work, and write failures of the user's environment as one line.

A path that cannot be written (a file where a folder should be, an empty or too long name, a
read-only parent) is refused before anything is loaded or computed; an ``OSError`` at the first
write (a full disk, a read-only mount) becomes the same kind of ``UsageError`` naming the path.
``describe`` and ``reason`` format any exception (TensorFlow's errors have no ``filename`` or
``strerror``) and never raise, so a handler always prints its line.
"""

import contextlib
import os

from tf_fastls0.utils.cli import UsageError

DEFAULT_NAME_MAX = 255
DEFAULT_PATH_MAX = 4096


def check_output_dir(path, flag="--output_dir"):
    """Raises ``UsageError`` unless ``path`` is, or can be created as, a writable folder."""
    path = _checked_name(path, flag)
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise UsageError(f"{flag} {path} is a file, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{flag} {path}: the folder is not writable")
        return
    _check_creatable(path, flag)


def check_output_file(path, flag):
    """Raises ``UsageError`` unless ``path`` is, or can be created as, a writable file."""
    path = _checked_name(path, flag)
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path} is a folder, not a file")
    if os.path.exists(path):
        if not os.access(path, os.W_OK):
            raise UsageError(f"{flag} {path}: the file is not writable")
        return
    _check_creatable(path, flag)


@contextlib.contextmanager
def environment_errors(path, what="write"):
    """Turns an ``OSError`` (no space, read-only, permission) into one ``UsageError`` line."""
    try:
        yield
    except OSError as error:
        raise UsageError(describe(error, path, what)) from None


def describe(error, path, what="write"):
    """``cannot write <path>: <the system's reason>``, for any exception: an ``OSError`` names
    its own file, a TensorFlow error (no ``filename``, no ``strerror``) gives its message."""
    return f"cannot {what} {getattr(error, 'filename', None) or path}: {reason(error)}"


def reason(error):
    """One line saying why ``error`` happened, whatever its type: the system's reason of an
    ``OSError``, the first line of a TensorFlow error's message or of any other exception's
    text, else the exception's type name. It never raises."""
    strerror = getattr(error, "strerror", None)
    if isinstance(strerror, str) and strerror.strip():
        return strerror.strip()
    try:
        text = getattr(error, "message", None)
        text = text if isinstance(text, str) and text.strip() else str(error)
    except Exception:  # noqa: BLE001  (a __str__ that raises still gives a line)
        text = ""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _checked_name(path, flag):
    if path is None or not str(path).strip():
        raise UsageError(f"{flag} is empty; name a folder or file to write to")
    path = os.path.abspath(os.path.expanduser(str(path)))
    existing = _nearest_existing(path)
    name_max = _limit(existing, "PC_NAME_MAX", DEFAULT_NAME_MAX)
    too_long = [part for part in path.split(os.sep) if len(part.encode()) > name_max]
    if too_long:
        raise UsageError(f"{flag} {path}: the name {too_long[0][:40]}... is longer than the "
                         f"{name_max} characters a file name may have here")
    path_max = _limit(existing, "PC_PATH_MAX", DEFAULT_PATH_MAX)
    if len(path.encode()) >= path_max:
        raise UsageError(f"{flag} {path[:60]}...: the path is longer than the {path_max} "
                         "characters a path may have here")
    return path


def _check_creatable(path, flag):
    existing = _nearest_existing(os.path.dirname(path))
    if not os.path.isdir(existing):
        raise UsageError(f"{flag} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: cannot create it, the folder {existing} is not "
                         "writable")


def _nearest_existing(path):
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _limit(path, name, default):
    try:
        return os.pathconf(path if os.path.isdir(path) else os.path.dirname(path), name)
    except (OSError, ValueError):
        return default
