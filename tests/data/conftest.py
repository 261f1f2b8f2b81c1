"""Helpers the data tests share, as fixtures: batches of a dataset as numpy, batch-by-batch
equality of two such lists, and the whole check that the stream and memory paths of a data set
agree exactly."""

import numpy as np
import pytest

from tf_fastls0.data import evaluation_dataset, training_dataset


def _collect(dataset):
    return [tuple(t.numpy() for t in batch) for batch in dataset]


def _assert_same_batches(first, second):
    assert len(first) == len(second) > 0
    for a, b in zip(first, second):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@pytest.fixture
def collect():
    return _collect


@pytest.fixture
def assert_same_batches():
    return _assert_same_batches


def _assert_paths_agree(memory, stream, batch_size, eval_batch_size, seed):
    """Training batches with and without augmentation, evaluation batches and picked test
    images are the same on both paths."""
    for augment in (True, False):
        _assert_same_batches(
            _collect(training_dataset(memory.train, batch_size, 2, seed=seed, augment=augment)),
            _collect(training_dataset(stream.train, batch_size, 2, seed=seed, augment=augment)))
    _assert_same_batches(_collect(evaluation_dataset(memory.test, eval_batch_size)),
                         _collect(evaluation_dataset(stream.test, eval_batch_size)))
    np.testing.assert_array_equal(memory.test.float_images([3, 1]),
                                  stream.test.float_images([3, 1]))


@pytest.fixture
def assert_paths_agree():
    return _assert_paths_agree
