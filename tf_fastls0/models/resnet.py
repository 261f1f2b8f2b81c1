"""ResNet-34 as ImageNet models have it (He et al. 2016; torchvision's ``resnet34``), the network
of the paper's ImageNet-100 table (4b), built from Keras' own layers (BatchNorm: Keras' layer
through the fused kernel, ``batch_norm.py``).

Stem: 7x7 conv, stride 2, 64 channels (no bias) -> BN -> ReLU -> 3x3 max-pool, stride 2. Four
stages of post-activation basic blocks, 3-4-6-3 of them, with 64, 128, 256, 512 channels and
strides 1, 2, 2, 2. Block: conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus the identity or, where the
shape changes, a 1x1 strided conv -> BN; then ReLU. Head: global average pool -> dense. A 224x224
image reaches the first stage at 56x56 (the CIFAR-style ``preact_resnet34`` runs it at full size).

Where it follows torchvision rather than Keras' defaults: padding is explicit and symmetric
(``ZeroPadding2D`` then "valid"), as PyTorch pads, because Keras' "same" pads a stride-2 layer on
an even input only at the bottom and right; zero padding before the max-pool equals PyTorch's
(its inputs are ReLU outputs, never below 0). BatchNorm momentum 0.9 and epsilon 1e-5 are
PyTorch's. Convolutions start Kaiming-normal (fan_out, ReLU gain), as torchvision re-initialises
them; the dense layer keeps PyTorch's default (``initializers.py``). The strided 1x1 shortcut is
a stride-2 subsampling then a 1x1 convolution (the same map; see ``_basic_block``). No input
normalisation layer (deviation: our models take images in [0, 1] and attacks work in that space);
whether the reference code normalises inside its ImageNet-100 model is not checked here.
``width`` scales every channel count, for tests and CPU runs.
"""

import functools

import keras

from tf_fastls0.models.batch_norm import BatchNormalization
from tf_fastls0.models.initializers import dense_kwargs, torchvision_resnet_conv_kwargs
from tf_fastls0.models.preact_resnet import (BN_EPSILON, BN_MOMENTUM, STAGE_CHANNELS,
                                             STAGE_STRIDES, scaled_channels)



def resnet(input_shape, num_classes, blocks_per_stage, width=1.0, sync_batchnorm=False,
           name="resnet"):
    """A functional ImageNet ResNet with basic blocks; images in [0, 1] in, logits out."""
    batch_norm = functools.partial(BatchNormalization, momentum=BN_MOMENTUM,
                                   epsilon=BN_EPSILON, synchronized=sync_batchnorm)
    images = keras.Input(shape=input_shape, name="images")
    x = _conv(scaled_channels(64, width), 7, 2, 3, "stem_conv")(images)
    x = keras.layers.ReLU(name="stem_relu")(batch_norm(name="stem_bn")(x))
    x = keras.layers.ZeroPadding2D(1, name="pool_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    for stage, (channels, stride) in enumerate(zip(STAGE_CHANNELS, STAGE_STRIDES)):
        for block in range(blocks_per_stage[stage]):
            x = _basic_block(x, scaled_channels(channels, width), stride if block == 0 else 1,
                             batch_norm, f"stage{stage + 1}_block{block + 1}")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    # float32 logits even under a mixed-precision policy: losses and attacks compare them finely.
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits",
                                **dense_kwargs(x.shape[-1]))(x)
    return keras.Model(images, logits, name=name)


def _basic_block(x, channels, stride, batch_norm, name):
    shortcut = x
    if stride != 1:
        # A 1x1 stride-2 convolution, written as the stride-2 subsampling it is followed by a 1x1
        # convolution (same function, same weights): on CPU, TensorFlow 2.21's oneDNN kernel of
        # the strided 1x1 convolution aborts with heap corruption in the attack's backward pass
        # (56x56 -> 28x28 inputs of a 224x224 image).
        shortcut = keras.layers.AveragePooling2D(1, strides=stride, name=f"{name}_subsample")(x)
    if stride != 1 or x.shape[-1] != channels:
        shortcut = batch_norm(name=f"{name}_shortcut_bn")(
            _conv(channels, 1, 1, 0, f"{name}_shortcut")(shortcut))
    y = _conv(channels, 3, stride, 1, f"{name}_conv1")(x)
    y = keras.layers.ReLU(name=f"{name}_relu1")(batch_norm(name=f"{name}_bn1")(y))
    y = batch_norm(name=f"{name}_bn2")(_conv(channels, 3, 1, 1, f"{name}_conv2")(y))
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return keras.layers.ReLU(name=f"{name}_relu2")(y)


def _conv(channels, kernel, stride, padding, name):
    """A bias-free convolution with PyTorch's symmetric zero padding."""
    conv = keras.layers.Conv2D(channels, kernel, strides=stride, padding="valid", use_bias=False,
                               name=name, **torchvision_resnet_conv_kwargs())
    if not padding:
        return conv
    pad = keras.layers.ZeroPadding2D(padding, name=f"{name}_pad")
    return lambda x: conv(pad(x))


resnet34 = functools.partial(resnet, blocks_per_stage=(3, 4, 6, 3), name="resnet34")
