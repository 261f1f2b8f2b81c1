"""A small CNN for tests and quick runs: three conv layers with BatchNorm, global pooling, a dense head.

``small_cnn_nobn`` drops BatchNorm: its update is exactly the same on one replica or several
(BatchNorm statistics are per replica unless synchronised), which the distribution tests need.
"""

import functools

import keras

from tf_fastls0.models.batch_norm import BatchNormalization
from tf_fastls0.models.initializers import conv_kwargs, dense_kwargs


def small_cnn(input_shape, num_classes, width=1.0, sync_batchnorm=False, batch_norm=True, name="small_cnn"):
    images = keras.Input(shape=input_shape, name="images")
    x = images
    for i, (channels, stride) in enumerate(((32, 1), (64, 2), (128, 2))):
        x = keras.layers.Conv2D(max(1, int(round(channels * width))), 3, strides=stride,
                                padding="same", name=f"conv{i + 1}",
                                **conv_kwargs(3, x.shape[-1]))(x)
        if batch_norm:
            x = BatchNormalization(momentum=0.9, epsilon=1e-5,
                                                synchronized=sync_batchnorm, name=f"bn{i + 1}")(x)
        x = keras.layers.ReLU(name=f"relu{i + 1}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    # float32 logits even under a mixed-precision policy: losses and attacks compare them finely.
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits",
                                **dense_kwargs(x.shape[-1]))(x)
    return keras.Model(images, logits, name=name)


small_cnn_nobn = functools.partial(small_cnn, batch_norm=False, name="small_cnn_nobn")
