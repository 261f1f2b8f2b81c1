"""The folder of a training run: whether this run may use it, and what replacing a run removes.

A folder is a training run if tf_fastls0 marked it so (``.tf_fastls0_run``), or, for runs made
before the marker existed, if its ``config.json`` is a training config beside the checkpoints or
the summary of a run. Replacing a run (``--overwrite`` with other settings, or ``--noresume``)
removes only what a training writes (``RUN_OUTPUTS`` and ``final_eval_*/``); anything else in the
folder stays. A folder that is not empty and is not a training run is refused, ``--overwrite``
or not: tf_fastls0 never deletes what it did not write.

A run over an image folder (``--data_dir``) records the folder's listing fingerprint in its
``config.json`` (``data_dir_listing``: per class folder, the count, names, sizes and times of its
images); a resume over a folder whose fingerprint differs is refused, naming the class folders
that changed (or replaces the run with ``--overwrite``), since the run's per-example rows would
then belong to other images.
"""

import json
import os
import re
import shutil

from tf_fastls0.data.image_folder import listing_changes, listing_fingerprint
from tf_fastls0.models import precision
from tf_fastls0.models.loading import RUN_KERAS_FILE, RUN_SAVED_MODEL
from tf_fastls0.training.checkpoints import remove_temporaries
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.utils import settings
from tf_fastls0.utils.atomic import clean_temporaries, final_name, write_json
from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.run_lock import LOCK_FILE
from tf_fastls0.utils.run_marker import (MARKER_FILE, TRAINING, read_marker, refuse_other_kind,
                                         write_marker)

CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"
CHECKPOINT_DIR = "checkpoints"
LOGS_DIR = "logs"
HARNESS_LEDGER = "harness.json"  # benchmarks/harness/ledger.py: it goes with the run it describes
RUN_OUTPUTS = (CONFIG_FILE, SUMMARY_FILE, CHECKPOINT_DIR, LOGS_DIR, RUN_SAVED_MODEL,
               RUN_KERAS_FILE, MARKER_FILE, HARNESS_LEDGER)
_FINAL_EVAL = re.compile(r"^final_eval_\w+$")
_CONFIG_KEYS = {"model", "method", "epochs", "data", "output_dir"}  # a training config has them
LISTING_KEY = "data_dir_listing"
_CHANGES_SHOWN = 3

FRESH, RESUME, REPLACE = "fresh", "resume", "replace"


def image_listing(config):
    """The fingerprint of the run's image folder (``listing_fingerprint``); None without one."""
    return listing_fingerprint(config.data.data_dir) if config.data.data_dir else None


def plan(config, listing=None):
    """What this run does with its folder: FRESH (empty or absent), RESUME or REPLACE the run in
    it. ``UsageError`` for a folder that is not a training run, or holds one with other settings
    or over an image folder whose files changed (without ``--overwrite``). ``listing``: the
    ``image_listing`` if the caller has it. Reads only; the caller holds the folder's lock."""
    folder = config.output_dir
    entries = _entries(folder)
    if not entries:
        return FRESH
    refuse_other_kind(folder, TRAINING)
    if read_marker(folder) is None and not _legacy_run(folder):
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise UsageError(f"{folder} is not empty and holds no tf_fastls0 run (it holds {shown}); "
                         "tf_fastls0 never deletes what it did not write, so choose another "
                         "--output_dir")
    changed = _changed_settings(config)
    if changed and not config.overwrite:
        raise UsageError(f"{folder} holds a run with other settings ({', '.join(changed)}); pass "
                         "--overwrite to replace it or choose another --output_dir")
    if changed or not config.resume:
        return REPLACE
    moved = _changed_images(config, listing)
    if moved and not config.overwrite:
        shown = "; ".join(moved[:_CHANGES_SHOWN]) + (
            f"; {len(moved) - _CHANGES_SHOWN} more class folders" if len(moved) > _CHANGES_SHOWN
            else "")
        raise UsageError(f"{folder} holds a run over other images: {config.data.data_dir} "
                         f"changed since it started ({shown}); its per-example rows would "
                         "belong to other images: restore the folder, or pass --overwrite to "
                         "train afresh, or choose another --output_dir")
    return REPLACE if moved else RESUME


def clear(folder):
    """Removes what a training wrote into ``folder``, and nothing else."""
    for name in _entries(folder):
        if name in RUN_OUTPUTS or _FINAL_EVAL.match(name) or final_name(name) in RUN_OUTPUTS:
            path = os.path.join(folder, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)


def claim(config, listing=None):
    """Marks the folder as this training run: leftovers of killed writes cleaned, config.json
    written (first: a folder killed before its marker is still recognised by it), the marker.
    ``listing``: the ``image_listing`` if the caller has it."""
    folder = config.output_dir
    clean_temporaries(folder, RUN_OUTPUTS)
    remove_temporaries(os.path.join(folder, CHECKPOINT_DIR))
    listing = listing if listing is not None else image_listing(config)
    write_json(os.path.join(folder, CONFIG_FILE),
               {**config.to_dict(), **settings.input_file_hashes(config),
                **({LISTING_KEY: listing} if listing is not None else {})})
    write_marker(folder, TRAINING)


def read_config(folder):
    """The run's config.json as a dict; ``ValueError`` saying why it cannot be read."""
    path = os.path.join(folder, CONFIG_FILE)
    try:
        with open(path) as handle:
            previous = json.load(handle)
    except FileNotFoundError:
        raise ValueError(f"{CONFIG_FILE} is missing") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"{CONFIG_FILE} cannot be read: {error}") from None
    if not isinstance(previous, dict):
        raise ValueError(f"{CONFIG_FILE} holds no settings")
    return previous


def _changed_settings(config):
    """The settings that change what the run computes and differ from the folder's run's (read
    through ``TrainConfig``, so old names and missing new settings compare as they mean), and
    the input files whose content differs (``<field>_sha256`` in config.json)."""
    try:
        written = read_config(config.output_dir)
        previous = settings.result_settings(TrainConfig.from_dict(written))
    except ValueError as error:  # UsageError too: a config.json no run of today could write
        return [f"unknown: {error}"]
    current = settings.result_settings(config)
    if current["mixed_precision"] == precision.AUTO:  # resumes in the precision it started with
        del current["mixed_precision"]
    changed = [key for key, value in current.items() if previous.get(key) != value]
    # an input file rewritten in place (runs from before the hashes were written have none)
    changed += [key for key, value in settings.input_file_hashes(config).items()
                if key in written and written[key] != value]
    return sorted(changed)


def started_precision(folder):
    """The ``precision.Choice`` the run in ``folder`` trained in, from its config.json (float32
    for a run from before ``--mixed_precision``); None where there is no config.json to read."""
    try:
        written = read_config(folder)
    except ValueError:
        return None
    value = written.get("mixed_precision", precision.OFF)
    if value not in precision.PRECISIONS:  # no run writes auto: it is resolved before
        return None
    reason = written.get("mixed_precision_reason") or (
        precision.GIVEN if "mixed_precision" in written else "the run predates --mixed_precision")
    return precision.Choice(value, reason)


def _changed_images(config, listing):
    """The class folders of the run's image folder that changed since config.json recorded them
    (``listing_changes``); none for runs without an image folder or from before the record."""
    try:
        recorded = read_config(config.output_dir).get(LISTING_KEY)
    except ValueError:
        return []
    if not isinstance(recorded, dict) or not config.data.data_dir:
        return []
    return listing_changes(recorded, listing if listing is not None else image_listing(config))


def _legacy_run(folder):
    """A run made before the marker: a training config.json beside checkpoints or a summary."""
    try:
        previous = read_config(folder)
    except ValueError:
        return False
    has_checkpoints = any(name.endswith(".index") for name in
                          _entries(os.path.join(folder, CHECKPOINT_DIR)))
    return _CONFIG_KEYS <= set(previous) and (
        has_checkpoints or os.path.isfile(os.path.join(folder, SUMMARY_FILE)))


def _entries(folder):
    """The folder's entries, less the lock file; empty if there is no folder."""
    try:
        return sorted(set(os.listdir(folder)) - {LOCK_FILE})
    except (FileNotFoundError, NotADirectoryError):
        return []
