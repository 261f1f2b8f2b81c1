"""A run's checkpoints: resume from the newest one that reads back completely, and never leave a
partial one behind.

The index file (``checkpoints/checkpoint``) may be garbage or empty after a crash, so the
checkpoints are the union of those it names and the ``ckpt-<step>.index`` files on disk. Newest
first, each is read back in full (every tensor; the reader verifies their checksums) before it is
restored, and one that fails is skipped with one line saying why. A restore counts only if it
matched every object of the run (network, optimizer, SAT buffer): it then overwrites every value a
failed attempt before it may have half-written, so no copy of the initial state is needed.
"""

import contextlib
import os
import re
import shutil
import sys

import tensorflow as tf

from tf_fastls0.utils.atomic import atomic_path
from tf_fastls0.utils.cli import RunFailed, UsageError
from tf_fastls0.utils.output_paths import reason

CHECKPOINT_NAME = "ckpt"
INDEX_FILE = "checkpoint"
_INDEX_NAME = re.compile(rf"^{CHECKPOINT_NAME}-(\d+)\.index$")
_TEMPORARY = re.compile(rf"^{CHECKPOINT_NAME}-\d+_temp$")  # TF's folder of a save in progress


class CheckpointsUnreadable(UsageError):
    """A run has checkpoints but none of them reads back."""


class CheckpointWriteFailed(RunFailed):
    """A checkpoint could not be written (a full disk); its partial files were removed."""


def restore_newest_complete(checkpoint, directory, repair_index=True):
    """Restores the newest complete checkpoint of ``directory`` into ``checkpoint`` and returns
    its path; None if the run has no checkpoint yet. With ``repair_index`` a damaged index, or one
    naming a skipped checkpoint, is rewritten to name the restored one."""
    listed, index_problem = _listed(directory)
    if index_problem:
        _warn(index_problem)
    candidates = sorted(set(listed) | set(_on_disk(directory)), key=step_of, reverse=True)
    reasons = []
    for prefix in candidates:
        problem = _unreadable(prefix) or _restore(checkpoint, prefix)
        if problem is None:
            if repair_index and (index_problem or reasons):
                _write_index(directory, prefix,
                             [p for p in candidates if step_of(p) <= step_of(prefix)])
            return prefix
        _warn(f"skipping checkpoint {prefix}: {problem}")
        reasons.append(f"{os.path.basename(prefix)}: {problem}")
    if candidates or index_problem:
        tried = "; ".join(reasons) if reasons else "no checkpoint files are left"
        raise CheckpointsUnreadable(
            f"no checkpoint in {directory} reads back completely ({tried}); pass --noresume to "
            "train again from step 0")
    return None


def save(manager, step):
    """Saves checkpoint ``step``. If it cannot be written, removes its partial files, puts the
    index back and raises ``CheckpointWriteFailed`` naming the last good checkpoint. If Ctrl-C
    stops the save, the checkpoint is kept (and indexed) if it reads back in full, else removed
    like a failed one, and the ``KeyboardInterrupt`` goes on."""
    previous = manager.latest_checkpoint
    kept = [path for path in manager.checkpoints if os.path.exists(path + ".index")]
    try:
        return manager.save(checkpoint_number=step)
    except (OSError, tf.errors.OpError) as error:
        _undo_save(manager.directory, step, previous, kept)
        last = (f"the last good checkpoint is {previous}" if previous
                else "there is no earlier checkpoint")
        raise CheckpointWriteFailed(
            f"cannot write checkpoint {_prefix(manager.directory, step)}: {reason(error)}; its "
            f"partial files were removed and {last}; fix that and run the same command again to "
            "resume") from None
    except KeyboardInterrupt:
        prefix = _prefix(manager.directory, step)
        if _unreadable(prefix) is None:  # written in full before Ctrl-C landed: keep it
            _write_index(manager.directory, prefix, kept)
        else:
            _undo_save(manager.directory, step, previous, kept)
        raise


def _undo_save(directory, step, previous, kept):
    remove_checkpoint(directory, step)
    if previous:
        with contextlib.suppress(OSError):
            _write_index(directory, previous, kept)


def latest(directory):
    """The checkpoint the index names as newest, if its files are there; else None. (After a
    save undone by Ctrl-C this is the truth, not the manager's memory.)"""
    listed, problem = _listed(directory)
    if problem or not listed:
        return None
    newest = listed[-1]  # the index's model_checkpoint_path
    return newest if os.path.exists(newest + ".index") else None


def remove_checkpoint(directory, step):
    """Deletes every file of checkpoint ``step``, complete or not."""
    name = f"{CHECKPOINT_NAME}-{step}"
    for entry in _entries(directory):
        if entry in (f"{name}.index", f"{name}_temp") or entry.startswith(f"{name}.data-"):
            _remove(os.path.join(directory, entry))


def remove_temporaries(directory):
    """Deletes the folders of saves a kill interrupted (TF's ``ckpt-<step>_temp``)."""
    for entry in _entries(directory):
        if _TEMPORARY.match(entry):
            _remove(os.path.join(directory, entry))


def step_of(prefix):
    return int(os.path.basename(prefix).rsplit("-", 1)[1])


def _listed(directory):
    """The checkpoints the index names (in ``directory``), and a sentence if it is damaged."""
    index = os.path.join(directory, INDEX_FILE)
    if not os.path.exists(index):
        return [], None
    try:
        with _quiet_tensorflow():  # it logs its own two lines about a damaged index
            state = tf.train.get_checkpoint_state(directory)
    except (ValueError, tf.errors.OpError):
        state = None
    if state is None:
        return [], (f"the checkpoint index {index} is unreadable; looking for the checkpoint "
                    "files themselves")
    names = [os.path.basename(path) for path in
             [*state.all_model_checkpoint_paths, state.model_checkpoint_path]]
    return [os.path.join(directory, name) for name in names
            if re.fullmatch(rf"{CHECKPOINT_NAME}-\d+", name)], None


def _on_disk(directory):
    return [os.path.join(directory, match[0].removesuffix(".index"))
            for match in map(_INDEX_NAME.match, _entries(directory)) if match]


def _unreadable(prefix):
    """Why the checkpoint at ``prefix`` does not read back in full, or None."""
    name = os.path.basename(prefix)
    if not os.path.exists(prefix + ".index"):
        return f"its file {name}.index is missing"
    folder = os.path.dirname(prefix)
    if not any(entry.startswith(f"{name}.data-") for entry in _entries(folder)):
        return f"its data file {name}.data-* is missing"
    try:
        reader = tf.train.load_checkpoint(prefix)
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
    except Exception as error:  # noqa: BLE001  (any failure to read back means: not complete)
        return f"it does not read back ({reason(error)})"
    return None


def _restore(checkpoint, prefix):
    try:
        status = checkpoint.restore(prefix)
        status.assert_existing_objects_matched()
        status.expect_partial()
    except Exception as error:  # noqa: BLE001  (a later complete restore overwrites every value)
        return f"it does not match this run ({reason(error)})"
    return None


def _write_index(directory, latest, paths):
    """Rewrites the index to name ``paths`` and ``latest`` (the newest), as the manager writes it:
    names relative to ``directory``, each with its time, so the manager keeps sweeping them."""
    names = sorted({os.path.basename(path) for path in [*paths, latest]}, key=step_of)
    times = [os.path.getmtime(os.path.join(directory, f"{name}.index")) for name in names]
    lines = [f'model_checkpoint_path: "{os.path.basename(latest)}"']
    lines += [f'all_model_checkpoint_paths: "{name}"' for name in names]
    lines += [f"all_model_checkpoint_timestamps: {time!r}" for time in times]
    lines.append(f"last_preserved_timestamp: {min(times) - 1.0!r}")
    with atomic_path(os.path.join(directory, INDEX_FILE)) as temporary:
        with open(temporary, "w") as handle:
            handle.write("\n".join(lines) + "\n")


def _prefix(directory, step):
    return os.path.join(directory, f"{CHECKPOINT_NAME}-{step}")


def _entries(directory):
    try:
        return os.listdir(directory)
    except OSError:
        return []


def _remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.remove(path)


@contextlib.contextmanager
def _quiet_tensorflow():
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def _warn(message):
    print(f"warning: {message}", file=sys.stderr)
