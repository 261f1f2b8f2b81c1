import numpy as np
import tensorflow as tf

from tf_fastls0.data import evaluation_dataset, training_dataset
from tf_fastls0.data.image_set import ImageSet
from tf_fastls0.data.shapes import load_shapes, make_shapes


def tiny_set(n=40):
    rng = np.random.default_rng(0)
    return ImageSet(rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8),
                    np.arange(n, dtype=np.int32) % 4, ("a", "b", "c", "d"))


def collect(dataset):
    return [tuple(t.numpy() for t in batch) for batch in dataset]


def test_batches_are_float_in_unit_range_with_labels_and_unique_indices():
    batches = collect(training_dataset(tiny_set(), 8, epochs=1, seed=3))
    assert len(batches) == 5
    images, labels, indices = batches[0]
    assert images.dtype == np.float32 and images.shape == (8, 8, 8, 3)
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert labels.dtype == np.int32 and indices.dtype == np.int64
    all_indices = np.concatenate([b[2] for b in batches])
    assert sorted(all_indices) == list(range(40))  # every example once per epoch


def test_index_matches_the_stored_example_without_augmentation():
    data = tiny_set()
    for images, labels, indices in collect(training_dataset(data, 8, 2, seed=1, augment=False)):
        np.testing.assert_array_equal(np.round(images * 255).astype(np.uint8), data.images[indices])
        np.testing.assert_array_equal(labels, data.labels[indices])


def test_epochs_are_reshuffled_but_reproducible():
    first = collect(training_dataset(tiny_set(), 8, 2, seed=5))
    again = collect(training_dataset(tiny_set(), 8, 2, seed=5))
    epoch0 = np.concatenate([b[2] for b in first[:5]])
    epoch1 = np.concatenate([b[2] for b in first[5:]])
    assert not np.array_equal(epoch0, epoch1)
    for a, b in zip(first, again):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_resuming_mid_epoch_continues_the_same_stream():
    full = collect(training_dataset(tiny_set(), 8, 3, seed=2))
    resumed = collect(training_dataset(tiny_set(), 8, 3, seed=2, start_epoch=1, skip_steps=2))
    assert len(resumed) == len(full) - 7
    for a, b in zip(full[7:], resumed):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_augmentation_crops_and_flips_within_the_padding():
    data = tiny_set()
    images, _, indices = collect(training_dataset(data, 40, 1, seed=0))[0]
    originals = data.images[indices].astype(np.float32) / 255
    assert images.shape == originals.shape
    assert not np.allclose(images, originals)
    # each augmented image is some crop of the zero-padded, possibly flipped, original
    padded = np.pad(originals[0], ((4, 4), (4, 4), (0, 0)))
    candidates = [padded[y:y + 8, x:x + 8] for y in range(9) for x in range(9)]
    candidates += [c[:, ::-1] for c in candidates]
    assert any(np.allclose(images[0], c, atol=1e-6) for c in candidates)


def test_evaluation_keeps_order_and_the_last_partial_batch():
    batches = collect(evaluation_dataset(tiny_set(42), 8))
    assert [len(b[1]) for b in batches] == [8, 8, 8, 8, 8, 2]
    assert list(np.concatenate([b[2] for b in batches])) == list(range(42))


def test_builtin_shapes_are_deterministic_and_balanced():
    first, second = load_shapes(200, 50), load_shapes(200, 50)
    np.testing.assert_array_equal(first.train.images, second.train.images)
    assert np.bincount(first.train.labels).tolist() == [20] * 10
    assert first.train.image_shape == (32, 32, 3)
    other = make_shapes(50, np.random.default_rng(99))
    assert not np.array_equal(other.images, first.test.images)
