"""The chosen images, their batches and the shards: fixed, disjoint and covering."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_fastls0.data import ImageSet
from tf_fastls0.evaluation.selection import batch_bounds, chosen_indices, shard_batches


@settings(max_examples=20, deadline=None)
@given(size=st.integers(1, 60), n=st.integers(1, 80), seed=st.integers(0, 50))
def test_chosen_indices_are_the_images_of_image_set_subset(size, n, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(size, 2, 2, 1), dtype=np.uint8)
    labels = rng.integers(0, 3, size=size).astype(np.int32)
    test = ImageSet(images, labels, ("a", "b", "c"))
    chosen = chosen_indices(size, n, seed)
    subset = test.subset(n, seed)
    np.testing.assert_array_equal(images[chosen], subset.images)
    np.testing.assert_array_equal(labels[chosen], subset.labels)
    assert len(chosen) == min(n, size) and np.all(np.diff(chosen) > 0)


@settings(max_examples=25, deadline=None)
@given(count=st.integers(1, 100), batch_size=st.integers(1, 20), data=st.data())
def test_shards_are_contiguous_whole_batches_covering_every_image(count, batch_size, data):
    bounds = batch_bounds(count, batch_size)
    assert bounds[0][0] == 0 and bounds[-1][1] == count
    assert all(stop - start == batch_size for start, stop in bounds[:-1])
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    num_shards = data.draw(st.integers(1, len(bounds)))
    shards = [shard_batches(len(bounds), i, num_shards) for i in range(num_shards)]
    assert sum(shards, []) == list(range(len(bounds)))  # disjoint, in order, covering
    sizes = [len(shard) for shard in shards]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1
