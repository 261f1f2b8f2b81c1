"""sPGD returns its start as it returns its last iterate (N-AAER judges its step from there)."""

import numpy as np
import pytest

from tf_fastls0.attacks import sparse_pgd
from tf_fastls0.utils import keyed_random


@pytest.mark.parametrize("projected", [False, True])
def test_the_start_is_the_keyed_random_start(mlp, predicted_batch, projected):
    """SPEC §2.1: p ~ U(-1, 1) clipped into the box, the mask the top-eps of N(0, 1) logits."""
    shape, eps, seed, keys = (5, 6, 3), 4, 3, np.arange(20, 26)
    model_fn = mlp(shape, seed=seed)
    images, labels = predicted_batch(model_fn, shape, 6, seed)
    result = sparse_pgd(model_fn, images, labels, eps=eps, iterations=3, projected=projected,
                        keys=keys, seed=seed, counter=7)
    magnitude = keyed_random.uniform(keys, shape, seed, 7, keyed_random.STREAM_MAGNITUDE,
                                     minval=-1.0, maxval=1.0).numpy()
    magnitude = np.clip(magnitude, np.maximum(-1.0, -images), np.minimum(1.0, 1.0 - images))
    logits = keyed_random.normal(keys, (*shape[:2], 1), seed, 7,
                                 keyed_random.STREAM_MASK_LOGITS).numpy().reshape(6, -1)
    mask = np.zeros_like(logits)
    for row, order in zip(mask, np.argsort(-logits, axis=1, kind="stable")):
        row[order[:eps]] = 1.0
    start_mask, start_magnitude = (t.numpy() for t in result.start)
    np.testing.assert_array_equal(start_mask, mask.reshape(6, *shape[:2], 1))
    np.testing.assert_allclose(start_magnitude, magnitude, atol=1e-7)
    last_mask, last_magnitude = (t.numpy() for t in result.last_iterate)
    assert np.any(last_magnitude != start_magnitude)  # the start is not the last iterate


def test_no_start_is_returned_where_no_iterate_is(mlp, predicted_batch):
    model_fn = mlp((4, 4, 1))
    images, labels = predicted_batch(model_fn, (4, 4, 1), 3, 0)
    for kwargs in ({"iterations": 0}, {"iterations": 2, "compact": True}):
        result = sparse_pgd(model_fn, images, labels, eps=2, **kwargs)
        assert result.start is None and result.last_iterate is None
