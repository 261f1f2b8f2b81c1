"""Resumable evaluation state: per-image records and finished batches in ``eval_state.npz``.

Written atomically (write, then rename) at most once a minute, at the end of a batch, and when a
run stops; a run started with ``resume`` loads it and skips the finished batches. The state
carries a fingerprint of every setting that changes what is computed (model hash, budget, images,
batches, seed), and a state with another fingerprint is refused rather than silently mixed in.
"""

import dataclasses
import json
import os
import time
from typing import Optional

import numpy as np

from tf_fastls0.evaluation.records import Records
from tf_fastls0.utils.atomic import atomic_path
from tf_fastls0.utils.cli import UsageError

STATE_FILE = "eval_state.npz"
SAVE_EVERY_SECONDS = 60.0


@dataclasses.dataclass
class EvalState:
    fingerprint: dict
    records: Records
    done_batches: set
    adversarial: Optional[np.ndarray]  # [N, H, W, C] float32 where kept, clean where unbroken
    started_at: str
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


def load_state(output_dir, fingerprint):
    """The saved state in ``output_dir``, or None if there is none; ``UsageError`` if it was made
    with other settings or cannot be read."""
    path = os.path.join(output_dir, STATE_FILE)
    if not os.path.exists(path):
        return None
    try:
        with np.load(path) as saved:
            arrays = {key: saved[key] for key in saved.files}
        meta = json.loads(str(arrays["meta"]))
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"cannot resume from {path}: {error}; delete it to start afresh") from None
    if meta["fingerprint"] != fingerprint:
        changed = sorted(key for key in set(fingerprint) | set(meta["fingerprint"])
                         if fingerprint.get(key) != meta["fingerprint"].get(key))
        raise UsageError(f"cannot resume from {path}: it was made with other settings "
                         f"({', '.join(changed)}); run without --resume or use another "
                         "--output_dir")
    records = Records(arrays["indices"], arrays["labels"],
                      {name: arrays[f"broken_by.{name}"] for name in meta["attacks"]},
                      meta["seconds"],
                      {key.split(".", 1)[1]: arrays[key] for key in arrays
                       if key.startswith("min_pixels.")})
    return EvalState(fingerprint, records, set(meta["done_batches"]), arrays.get("adversarial"),
                     meta["started_at"])
