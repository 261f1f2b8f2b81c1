"""Helpers the data tests share, as fixtures: batches of a dataset as numpy, and batch-by-batch
equality of two such lists (the stream and memory paths must agree exactly)."""

import numpy as np
import pytest


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
