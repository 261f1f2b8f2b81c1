"""Resumable evaluation state: per-image records and finished batches in ``eval_state.npz``.

Written atomically (write, then rename) at most once a minute, at the end of a batch, and when a
run stops (Ctrl-C included); a run started with ``resume`` loads it and skips the finished
batches. The state carries a fingerprint of every setting that changes what is computed (model
hash, budget, images, batches, seed), and a state with another fingerprint is refused rather than
silently mixed in; so is a damaged one.
"""

import dataclasses
import json
import os
import time
import zipfile
from typing import Optional

import numpy as np

from tf_fastls0.evaluation.config import EvalConfig
from tf_fastls0.evaluation.records import Records
from tf_fastls0.utils.atomic import atomic_path
from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.old_names import renamed_keys

STATE_FILE = "eval_state.npz"
SAVE_EVERY_SECONDS = 60.0
META_KEYS = ("fingerprint", "done_batches", "seconds", "started_at", "attacks")


@dataclasses.dataclass
class EvalState:
    fingerprint: dict
    records: Records
    done_batches: set
    adversarial: Optional[np.ndarray]  # [N, H, W, C] float32 where kept, clean where unbroken
    started_at: str
    saved_batches: int = 0  # finished batches in the file as last saved
    last_saved: float = dataclasses.field(default_factory=time.monotonic)

    def save_if_due(self, output_dir):
        if time.monotonic() - self.last_saved >= SAVE_EVERY_SECONDS:
            self.save(output_dir)

    def save(self, output_dir):
        arrays = {"indices": self.records.indices, "labels": self.records.labels,
                  "meta": np.array(json.dumps({
                      "fingerprint": self.fingerprint, "done_batches": sorted(self.done_batches),
                      "seconds": self.records.seconds, "started_at": self.started_at,
                      "attacks": self.records.attacks}))}
        arrays.update({f"broken_by.{name}": codes
                       for name, codes in self.records.broken_by.items()})
        arrays.update({f"min_pixels.{name}": counts
                       for name, counts in self.records.min_pixels.items()})
        if self.adversarial is not None:
            arrays["adversarial"] = self.adversarial
        with atomic_path(os.path.join(output_dir, STATE_FILE)) as temporary:
            with open(temporary, "wb") as handle:  # a handle: np.savez would add ".npz" to a path
                np.savez(handle, **arrays)
        self.last_saved = time.monotonic()
        self.saved_batches = len(self.done_batches)


def load_state(output_dir, fingerprint, indices=None):
    """The saved state in ``output_dir``, or None if there is none; ``UsageError`` if it was made
    with other settings, or is damaged (truncated, empty, keys missing, arrays that disagree).
    ``indices``, if given, are the images these settings choose: the state must hold them."""
    path = os.path.join(output_dir, STATE_FILE)
    if not os.path.exists(path):
        return None
    try:
        arrays, meta = _read(path)
    except Exception as error:  # noqa: BLE001  (zip, pickle, EOF, JSON: every way a file is broken)
        raise UsageError(f"cannot resume from {path}: it is damaged ({_reason(error)}); delete it "
                         "to start afresh") from None
    if meta["fingerprint"] != fingerprint:
        changed = sorted(key for key in set(fingerprint) | set(meta["fingerprint"])
                         if fingerprint.get(key) != meta["fingerprint"].get(key))
        raise UsageError(f"cannot resume from {path}: it was made with other settings "
                         f"({', '.join(changed)}); run without --resume or use another "
                         "--output_dir")
    problem = _inconsistency(arrays, meta, indices)
    if problem:
        raise UsageError(f"cannot resume from {path}: it is damaged ({problem}); delete it to "
                         "start afresh")
    records = Records(arrays["indices"], arrays["labels"],
                      {name: arrays[f"broken_by.{name}"] for name in meta["attacks"]},
                      meta["seconds"],
                      {key.split(".", 1)[1]: arrays[key] for key in arrays
                       if key.startswith("min_pixels.")})
    done = set(meta["done_batches"])
    return EvalState(fingerprint, records, done, arrays.get("adversarial"), meta["started_at"],
                     saved_batches=len(done))


def _read(path):
    if not zipfile.is_zipfile(path):
        raise ValueError(f"not an .npz archive ({os.path.getsize(path)} bytes)")
    with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as saved:
        arrays = {key: saved[key] for key in saved.files}
    meta = json.loads(str(arrays["meta"]))
    if not isinstance(meta, dict) or not isinstance(meta.get("fingerprint"), dict):
        raise ValueError("its meta record is not one this program writes")
    meta["fingerprint"] = renamed_keys(EvalConfig, meta["fingerprint"])  # an older version's
    missing = [key for key in META_KEYS if key not in meta]
    if missing:
        raise KeyError(f"its meta has no {', '.join(missing)}")
    return arrays, meta


def _inconsistency(arrays, meta, indices):
    """What does not fit together in a state that read back, or None."""
    wanted = ["indices", "labels"] + [f"broken_by.{name}" for name in meta["attacks"]]
    if meta["fingerprint"].get("keep_adversarial"):
        wanted.append("adversarial")
    missing = [key for key in wanted if key not in arrays]
    if missing:
        return f"no {', '.join(missing)}"
    count = len(arrays["indices"])
    uneven = [key for key in wanted if arrays[key].ndim < 1 or len(arrays[key]) != count]
    if uneven:
        return f"{', '.join(uneven)} do not have one entry per image"
    if indices is not None and not np.array_equal(arrays["indices"], indices):
        return "its images are not the ones these settings choose"
    if not all(isinstance(batch, int) for batch in meta["done_batches"]):
        return "its finished batches are not batch numbers"
    return None


def _reason(error):
    text = str(error).strip().strip("'\"")
    if isinstance(error, ValueError) and text:
        return text.splitlines()[0]
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__
