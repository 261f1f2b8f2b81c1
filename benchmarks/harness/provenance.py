"""Which code made a result: the git commit of the repository, marked ``-dirty`` when tracked
code differs from it (rewritten files under ``benchmarks/results`` are outputs and do not count)."""

import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def git_commit():
    """``<short hash>``, ``<short hash>-dirty``, or ``unknown`` outside a git checkout."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no", "--", ".",
                     ":(exclude)benchmarks/results")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def _git(*args):
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.strip()
