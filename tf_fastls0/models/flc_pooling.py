"""FrequencyLowCut pooling (Grabinski et al., ECCV 2022, "FrequencyLowCut Pooling - Plug & Play
against Catastrophic Overfitting"): downsampling by 2 that keeps only the low frequencies, so
nothing above the new Nyquist frequency aliases into the smaller map.

For each channel of an H x W map (reference code GeJulia/flc_pooling, ``flc_pooling.py``):

    F = fftshift(FFT2(x));   y = | IFFT2(ifftshift(F[H/4 : 3H/4, W/4 : 3W/4])) |,

the centred block of half the size in each dimension (bounds rounded down, ``int(H / 4)`` to
``int(3 H / 4)``, as the reference), the modulus of the inverse transform of the low-frequency
block. As in the reference there is no renormalisation: the inverse transform's 1/(h w) of the
smaller grid makes a constant map come out 4 times larger (the BatchNorm after it absorbs the
scale). The transform runs in float32 whatever the compute dtype.

``FrequencyLowCutPooling`` is registered with Keras (package ``tf_fastls0``): a ``.keras`` file
that uses it loads in safe mode once ``tf_fastls0.models`` is imported.
"""

import keras
import tensorflow as tf


def _low_bounds(size):
    return size // 4, (3 * size) // 4


def flc_pool(images):
    """FLC pooling of NHWC ``images`` (static H and W)."""
    height, width = images.shape[1], images.shape[2]
    (top, bottom), (left, right) = _low_bounds(height), _low_bounds(width)
    channels_first = tf.transpose(tf.cast(images, tf.float32), [0, 3, 1, 2])
    spectrum = tf.signal.fftshift(tf.signal.fft2d(tf.complex(channels_first, 0.0)), axes=(-2, -1))
    low = spectrum[..., top:bottom, left:right]
    pooled = tf.abs(tf.signal.ifft2d(tf.signal.ifftshift(low, axes=(-2, -1))))
    return tf.cast(tf.transpose(pooled, [0, 2, 3, 1]), images.dtype)


@keras.saving.register_keras_serializable(package="tf_fastls0")
class FrequencyLowCutPooling(keras.layers.Layer):
    """FLC pooling as a Keras layer: ``[B, H, W, C] -> [B, int(3H/4) - int(H/4), ..., C]``."""

    def call(self, images):
        return flc_pool(images)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, _pooled(height), _pooled(width), channels)


def _pooled(size):
    if size is None:
        return None
    top, bottom = _low_bounds(size)
    return bottom - top
