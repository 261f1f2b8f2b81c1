"""``harness.json`` in a run folder: the trainer command the harness used and how long each
trainer/evaluator invocation took, so a run trained in pieces still reports its whole wall time.

It lives inside the trainer's run folder (written only once the trainer has made it a run folder,
i.e. ``config.json`` exists), so a run the trainer replaces (``--overwrite``) loses it too.
"""

import datetime
import json
import os

from tf_fastls0.utils.atomic import write_json

LEDGER_FILE = "harness.json"


def read_ledger(run_dir):
    try:
        with open(os.path.join(run_dir, LEDGER_FILE)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def record(run_dir, kind, outcome, argv=None):
    """Appends one invocation (``kind`` "train" or an evaluation folder name) to the ledger."""
    if not os.path.exists(os.path.join(run_dir, "config.json")):
        return  # not a run folder (the trainer refused or failed before making one)
    ledger = read_ledger(run_dir)
    ledger.setdefault("invocations", {}).setdefault(kind, []).append({
        "seconds": outcome.seconds, "returncode": outcome.returncode,
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
    if argv is not None:
        ledger[f"{kind}_argv"] = list(argv)
    write_json(os.path.join(run_dir, LEDGER_FILE), ledger)


def invocation_seconds(ledger, kind):
    """Total seconds of the ``kind`` invocations up to the first that succeeded (stopped pieces
    included; a later call that found the work done and returned at once is not counted), or
    None if there were none."""
    invocations = ledger.get("invocations", {}).get(kind)
    if not invocations:
        return None
    total = 0.0
    for invocation in invocations:
        total += invocation["seconds"]
        if invocation["returncode"] == 0:
            break
    return total
