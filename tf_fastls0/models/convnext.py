"""ConvNeXt for 32x32 images (paper Table 10: "tiny versions with about ResNet-18's parameter
count"), built from Keras' own ConvNeXt block.

Architecture (ConvNeXt, Liu et al. 2022, as timm / facebookresearch/ConvNeXt write it): a
patchify stem (``patch_size`` x ``patch_size`` conv, stride ``patch_size``, then LayerNorm); four
stages of ConvNeXt blocks (7x7 depthwise conv -> LayerNorm -> Dense 4C -> GELU -> Dense C ->
LayerScale 1e-6, plus the identity), with LayerNorm + 2x2 stride-2 conv between stages; head:
global average pool -> LayerNorm -> dense. LayerNorm epsilon 1e-6 throughout.

The CIFAR-10 form. ConvNeXt-T (depths 3, 3, 9, 3; dims 96 ... 768; 4x4 stem) has 28M parameters
and would leave a 1x1 map at 32x32. Following the CIFAR-10 ConvNeXt implementations
(filipbasara0/simple-convnext: patch size 1, dims 64, 128, 256, 512, its own runs showing
patches of 2 and 4 cost 6 and 12 points of accuracy), this keeps ConvNeXt-T's depths with
ResNet-18's widths and a 1x1 stem, so the stages see 32, 16, 8 and 4 pixels as ResNet-18's do:
12.45M parameters for 10 classes (PreAct ResNet-18: 11.17M).

Deviations: no stochastic depth (ConvNeXt-T uses 0.1 on ImageNet; the CIFAR-10 runs use 0, and a
random drop would need its own keyed stream); images go in unnormalised, as for every model here.

Layers: the block and ``LayerScale`` are Keras' (``keras.src.applications.convnext``, the code
behind ``keras.applications.ConvNeXtTiny``, whose public module exports only the whole ImageNet
models); ``keras.applications.ConvNeXt*`` itself cannot be used, as its stem is the fixed 4x4
one. Their ``.keras`` files load in safe mode with no custom objects. Weights: timm's
initialisation (``initializers.reinitialize_like_timm``, applied after the model is built because
Keras' block fixes its initialisers). ``width`` scales every stage's channels.
"""

import functools

import keras
from keras.src.applications.convnext import ConvNeXtBlock

from tf_fastls0.models.initializers import reinitialize_like_timm
from tf_fastls0.models.preact_resnet import scaled_channels

LAYER_NORM_EPSILON = 1e-6
LAYER_SCALE_INIT = 1e-6


def convnext(input_shape, num_classes, depths, dims, patch_size, width=1.0, sync_batchnorm=False,
             name="convnext"):
    """A functional ConvNeXt; images in [0, 1] go in, logits come out. ``sync_batchnorm`` is
    accepted for the common builder signature: there is no BatchNorm."""
    del sync_batchnorm
    images = keras.Input(shape=input_shape, name="images")
    x = images
    for stage, (depth, dim) in enumerate(zip(depths, dims)):
        channels = scaled_channels(dim, width)
        x = _stem(x, channels, patch_size) if stage == 0 else _downsample(x, channels, stage)
        for block in range(depth):
            x = ConvNeXtBlock(channels, layer_scale_init_value=LAYER_SCALE_INIT,
                              name=f"stage{stage + 1}_block{block + 1}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="head_norm")(x)
    # float32 logits even under a mixed-precision policy: losses and attacks compare them finely.
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    model = keras.Model(images, logits, name=name)
    reinitialize_like_timm(model)
    return model


def _stem(x, channels, patch_size):
    x = keras.layers.Conv2D(channels, patch_size, strides=patch_size, name="stem_conv")(x)
    return keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="stem_norm")(x)


def _downsample(x, channels, stage):
    x = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON,
                                        name=f"stage{stage + 1}_downsample_norm")(x)
    return keras.layers.Conv2D(channels, 2, strides=2, name=f"stage{stage + 1}_downsample_conv")(x)


convnext_tiny = functools.partial(convnext, depths=(3, 3, 9, 3), dims=(64, 128, 256, 512),
                                  patch_size=1, name="convnext_tiny")
