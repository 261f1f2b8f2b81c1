"""FrequencyLowCut pooling against numpy's FFT, and the PreAct ResNet-18 that downsamples with
it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.models import build_model
from tf_fastls0.models.flc_pooling import FrequencyLowCutPooling


def np_flc(images):
    """The reference's formula, per channel, with numpy's FFT (NHWC)."""
    height, width = images.shape[1:3]
    spectrum = np.fft.fftshift(np.fft.fft2(images, axes=(1, 2)), axes=(1, 2))
    low = spectrum[:, int(height / 4):int(height / 4 * 3), int(width / 4):int(width / 4 * 3)]
    return np.abs(np.fft.ifft2(np.fft.ifftshift(low, axes=(1, 2)), axes=(1, 2)))


@pytest.mark.parametrize("size", [(8, 8), (6, 10), (7, 5)])
def test_flc_pooling_matches_numpy(size):
    images = np.random.default_rng(0).normal(size=(2,) + size + (3,)).astype(np.float32)
    pooled = FrequencyLowCutPooling()(images)
    expected = np_flc(images.astype(np.float64))
    assert pooled.shape == expected.shape
    np.testing.assert_allclose(pooled, expected, rtol=1e-4, atol=1e-5)


def test_flc_keeps_a_slow_wave_and_drops_the_fastest():
    rows = np.arange(8, dtype=np.float32)
    slow = np.cos(2 * np.pi * rows / 8)[None, :, None, None] * np.ones((1, 8, 8, 1), np.float32)
    fastest = np.cos(np.pi * rows)[None, :, None, None] * np.ones((1, 8, 8, 1), np.float32)
    pooled_fastest = FrequencyLowCutPooling()(fastest).numpy()
    np.testing.assert_allclose(pooled_fastest, 0.0, atol=1e-5)  # no aliasing into the small map
    # the slow wave survives: its modulus at half resolution, 4 times larger (no renormalisation)
    expected = 4.0 * np.abs(np.cos(2 * np.pi * np.arange(4) / 4))[None, :, None, None]
    np.testing.assert_allclose(FrequencyLowCutPooling()(slow).numpy(),
                               np.broadcast_to(expected, (1, 4, 4, 1)), atol=1e-4)


def test_flc_preact_resnet18_replaces_every_strided_convolution():
    model = build_model("preact_resnet18_flc", (32, 32, 3), 10, width=0.125)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(conv.strides == (1, 1) for conv in convs)
    pools = [layer for layer in model.layers if isinstance(layer, FrequencyLowCutPooling)]
    assert [pool.output.shape[1] for pool in pools] == [16, 8, 4]
    assert model.get_layer("stage4_block2_add").output.shape[1:3] == (4, 4)  # as the strided net
    strided = build_model("preact_resnet18", (32, 32, 3), 10, width=0.125)
    assert model.count_params() == strided.count_params()  # FLC has no weights
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(tf.random.uniform([2, 32, 32, 3], seed=1), training=True))
    assert all(g is not None for g in tape.gradient(loss, model.trainable_variables))

