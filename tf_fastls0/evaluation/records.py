"""Per-image outcomes of an evaluation: which attack stage broke which test image.

``broken_by[name][i]`` uses the codes of ``tf_fastls0.attacks.sparse_autoattack``:
``CLEAN_MISTAKE`` (0) misclassified before any attack, a stage's code (1 ``spgd_unproj``,
2 ``spgd_proj``, 3 ``rs``) broken by that stage, ``SURVIVED`` (-1) correct after every stage of
that attack; ``NOT_DONE`` (-2) marks images not attacked yet (a run stopped early).

``min_pixels[name][i]``, for minimum-norm attacks (sigma-zero) only: the fewest changed pixels of a
fooling image the attack found (0 for clean mistakes, ``NOT_FOUND`` (-1) if none, ``NOT_DONE``).
"""

import dataclasses

import numpy as np

from tf_fastls0.attacks import ATTACKS, resolve_stages

NOT_DONE = -2


@dataclasses.dataclass
class Records:
    """Outcomes of every attack (``"saa"`` or one stage alone) on images ``indices`` (their
    positions in the test split) with ``labels``, and the seconds each stage took."""

    indices: np.ndarray  # [N] int64
    labels: np.ndarray  # [N] int32
    broken_by: dict  # attack name -> [N] int32
    seconds: dict  # attack name -> {stage: seconds}
    min_pixels: dict = dataclasses.field(default_factory=dict)  # minimum-norm attack -> [N] int32

    @classmethod
    def empty(cls, indices, labels, attacks):
        return cls(np.asarray(indices, np.int64), np.asarray(labels, np.int32),
                   {name: np.full(len(indices), NOT_DONE, np.int32) for name in attacks},
                   {name: dict.fromkeys(resolve_stages(name), 0.0) for name in attacks},
                   {name: np.full(len(indices), NOT_DONE, np.int32)
                    for name in attacks if ATTACKS[name].minimum_norm})

    @property
    def attacks(self):
        return list(self.broken_by)

    @property
    def done(self):
        """[N] bool: images every attack has finished with."""
        return np.all([codes != NOT_DONE for codes in self.broken_by.values()], axis=0)

    def finished(self):
        """The records of the finished images only."""
        keep = self.done
        return Records(self.indices[keep], self.labels[keep],
                       {name: codes[keep] for name, codes in self.broken_by.items()},
                       self.seconds,
                       {name: counts[keep] for name, counts in self.min_pixels.items()})

    @classmethod
    def concatenate(cls, parts):
        """One record of disjoint ``parts``, sorted by image index; seconds add."""
        indices = np.concatenate([part.indices for part in parts])
        order = np.argsort(indices, kind="stable")
        attacks = parts[0].attacks
        return cls(indices[order], np.concatenate([part.labels for part in parts])[order],
                   {name: np.concatenate([part.broken_by[name] for part in parts])[order]
                    for name in attacks},
                   {name: {stage: sum(part.seconds[name][stage] for part in parts)
                           for stage in parts[0].seconds[name]} for name in attacks},
                   {name: np.concatenate([part.min_pixels[name] for part in parts])[order]
                    for name in parts[0].min_pixels})
