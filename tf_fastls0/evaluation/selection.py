"""Which test images an evaluation attacks, in which batches, and which batches a shard takes.

The chosen images are ``ImageSet.subset(n_examples, seed)`` of the test split: a fixed,
seed-determined subset, the same for every model, so two models are compared on the same images.
They are cut into batches in order, and a shard takes a contiguous run of whole batches, so a
sharded or resumed run puts every image in the same batch as the unsharded run and attacks it
bit for bit alike.
"""

import dataclasses

import numpy as np

from tf_fastls0.data import ImageSet
from tf_fastls0.utils.cli import UsageError


def chosen_indices(num_images, n_examples, seed):
    """Test-split indices of ``ImageSet.subset(n_examples, seed)``, ascending.

    Computed by that very method on a set whose "images" are the indices, so the two cannot drift.
    """
    indices = np.arange(num_images)
    return ImageSet(indices, indices, ()).subset(n_examples, seed).labels


def batch_bounds(num_images, batch_size):
    """``[(start, stop)]`` of consecutive batches over ``num_images`` positions."""
    return [(start, min(start + batch_size, num_images))
            for start in range(0, num_images, batch_size)]


def shard_batches(num_batches, shard_index, num_shards):
    """The batch numbers of shard ``shard_index`` of ``num_shards``: a contiguous range."""
    if not 0 <= shard_index < num_shards:
        raise UsageError(f"--shard_index={shard_index} must be in 0 .. --num_shards-1 "
                         f"({num_shards - 1})")
    if num_shards > num_batches:
        raise UsageError(f"--num_shards={num_shards} is more than the {num_batches} batches of "
                         "images; use fewer shards or a smaller --batch_size")
    return [int(b) for b in np.array_split(np.arange(num_batches), num_shards)[shard_index]]


@dataclasses.dataclass(frozen=True)
class Plan:
    """The chosen test-split ``indices``, their batches (``bounds`` into ``indices``) and the
    batch numbers of this shard, which covers ``indices[start:stop]``."""

    indices: np.ndarray
    bounds: list
    batches: list

    @property
    def start(self):
        return self.bounds[self.batches[0]][0]

    @property
    def stop(self):
        return self.bounds[self.batches[-1]][1]

    @property
    def shard_indices(self):
        return self.indices[self.start:self.stop]


def plan(num_images, *, n_examples, seed, batch_size, shard_index, num_shards):
    indices = chosen_indices(num_images, n_examples, seed)
    bounds = batch_bounds(len(indices), batch_size)
    return Plan(indices, bounds, shard_batches(len(bounds), shard_index, num_shards))
