"""How many CPU cores this process may run on; no TensorFlow import, so the package's start-up
(``tf_fastls0/__init__.py``) can ask before TensorFlow loads."""

import os


def usable_cores():
    """The cores this process may run on (what ``os.cpu_count`` says where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
