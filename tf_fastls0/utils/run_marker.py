"""The marker that tells tf_fastls0's own output folders from anybody else's.

Only tf_fastls0 writes ``.tf_fastls0_run``; it says what the folder holds: a training run, an
evaluation or an analysis. A command writes into a folder marked as another kind only after
refusing, and the trainer deletes files (``--overwrite``) only in a folder marked as a training
run, and then only the files it writes itself.
"""

import json
import os

from tf_fastls0.utils.atomic import write_json
from tf_fastls0.utils.cli import UsageError

MARKER_FILE = ".tf_fastls0_run"
TRAINING, EVALUATION, ANALYSIS = "training run", "evaluation", "analysis"
UNREADABLE = "unreadable marker"


def read_marker(folder):
    """The kind the folder's marker names, None without a marker, ``UNREADABLE`` if damaged."""
    path = os.path.join(folder, MARKER_FILE)
    if not os.path.lexists(path):
        return None
    try:
        with open(path) as handle:
            kind = json.load(handle).get("kind")
    except (OSError, ValueError, AttributeError):
        return UNREADABLE
    return kind if isinstance(kind, str) else UNREADABLE


def write_marker(folder, kind):
    write_json(os.path.join(folder, MARKER_FILE), {"kind": kind, "written_by": "tf_fastls0"})


def refuse_other_kind(folder, kind):
    """``UsageError`` if ``folder`` is marked as holding something other than ``kind``."""
    found = read_marker(folder)
    if found == UNREADABLE:
        raise UsageError(f"{folder} has a damaged {MARKER_FILE}, so what it holds is unknown; "
                         "choose another --output_dir")
    if found not in (None, kind):
        raise UsageError(f"{folder} holds a tf_fastls0 {found}, not {_article(kind)} {kind}; "
                         "choose another --output_dir")


def _article(kind):
    return "an" if kind[0] in "aeiou" else "a"
