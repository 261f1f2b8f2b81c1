"""``harness.json`` in a run folder: the trainer command the harness used, and how long each
trainer/evaluator invocation took and at which commit, so a run trained in pieces still reports
its whole wall time and the code that made it.

It lives inside the trainer's run folder (written only once the trainer has made it a run folder,
i.e. ``config.json`` exists), so a run the trainer replaces (``--overwrite``) loses it too.
"""

import datetime
import json
import os

from benchmarks.harness.provenance import git_commit
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
        "seconds": outcome.seconds, "returncode": outcome.returncode, "commit": git_commit(),
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
    if argv is not None:
        ledger[f"{kind}_argv"] = list(argv)
    write_json(os.path.join(run_dir, LEDGER_FILE), ledger)


def counted_invocations(ledger, kind):
    """The ``kind`` invocations up to the first that succeeded (stopped pieces included; a later
    call that found the work done and returned at once is not counted)."""
    counted = []
    for invocation in ledger.get("invocations", {}).get(kind, []):
        counted.append(invocation)
        if invocation["returncode"] == 0:
            break
    return counted


def invocation_commits(ledger, kind):
    """The commits of the counted ``kind`` invocations, in order, joined by ``+``; None if none
    was recorded (ledgers written before commits were)."""
    commits = [i["commit"] for i in counted_invocations(ledger, kind) if i.get("commit")]
    return "+".join(dict.fromkeys(commits)) or None


def invocation_seconds(ledger, kind):
    """Total seconds of the counted ``kind`` invocations, or None if there were none."""
    counted = counted_invocations(ledger, kind)
    return sum(invocation["seconds"] for invocation in counted) if counted else None
