"""The attacks on a network that computes in bfloat16 (``--mixed_precision=mixed_bfloat16``): its
float32 logits and input gradients keep images, masks and perturbations float32, so the l0
budget and the [0, 1] box hold exactly."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_fastls0.attacks import SparseAutoAttack, sparse_pgd
from tf_fastls0.models import build_model, precision

SHAPE = (8, 8, 3)
CLASSES = 4


@pytest.fixture(scope="module")
def bfloat16_network():
    network = precision.with_policy(build_model("small_cnn", SHAPE, CLASSES, width=0.25),
                                    "mixed_bfloat16")
    assert network.layers[1].compute_dtype == "bfloat16"
    return network


def _batch(network, batch, seed):
    images = np.random.default_rng(seed).uniform(size=(batch, *SHAPE)).astype(np.float32)
    return images, np.argmax(network(images).numpy(), -1).astype(np.int32)


@settings(max_examples=10, deadline=None)
@given(batch=st.integers(1, 4), eps=st.integers(0, 10), steps=st.integers(1, 3),
       projected=st.booleans(), loss=st.sampled_from(["ce", "kl"]), seed=st.integers(0, 99))
def test_spgd_on_a_bfloat16_network_stays_a_sparse_float32_image(
        bfloat16_network, assert_sparse_image, batch, eps, steps, projected, loss, seed):
    network = bfloat16_network
    images, labels = _batch(network, batch, seed)
    result = sparse_pgd(lambda x: network(x, training=False), images, labels, eps=eps,
                        steps=steps, projected=projected, loss=loss, seed=seed)
    assert result.adversarial.dtype == tf.float32 and result.logits.dtype == tf.float32
    assert_sparse_image(result.adversarial.numpy(), images, eps)


def test_saa_on_a_bfloat16_network_stays_within_the_budget(bfloat16_network, assert_sparse_image):
    network = bfloat16_network
    images, labels = _batch(network, 6, seed=3)
    result = SparseAutoAttack(lambda x: network(x, training=False), eps=3, iterations=4,
                              queries=4)([(images, labels)])
    adversarial = np.asarray(result.adversarial)
    assert adversarial.dtype == np.float32
    assert_sparse_image(adversarial, images, 3)
