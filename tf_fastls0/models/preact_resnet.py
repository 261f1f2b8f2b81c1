"""PreAct ResNet-18 as the Fast-LS-l0 paper uses it (SPEC §6), built from Keras' own layers.

Stem: 3x3 conv (64 channels, no bias). Four stages of two pre-activation basic blocks (64, 128,
256, 512 channels; strides 1, 2, 2, 2). Block: BN -> softplus -> conv3x3 -> BN -> softplus ->
conv3x3, plus a shortcut that is the identity or, when the shape changes, a 1x1 conv of the
block's first activation. Head: BN -> ReLU -> global average pool -> dense. BatchNorm momentum
0.9 and epsilon 1e-5 match PyTorch's defaults (momentum 0.1 there counts the other way).

Built from Keras' layers, except BatchNorm: ``batch_norm.BatchNormalization``, Keras' layer
computed by TensorFlow's fused kernel (same variables and results); the export puts Keras' own
layer back (``precision.float32``), so the exported ``.keras`` file loads in safe mode with no
custom objects (a model saved directly needs ``tf_fastls0.models`` imported); the FLC variant
(``preact_resnet18_flc``, paper Table 6's FLC Pool) adds our registered
``FrequencyLowCutPooling`` (``flc_pooling.py``). ``width`` scales every channel count, for small
tests and quick CPU runs. Weights start from PyTorch's defaults (``initializers.py``), as in the
reference code.

Padding: the strided 3x3 convolutions use Keras' "same", which on an even input pads only the
bottom and right, where PyTorch (and so the reference code) pads one row and column on every
side: the same weights give a different function. ``pytorch_padding=True`` pads as PyTorch does
(``ZeroPadding2D(1)`` then "valid"); ``tf_fastls0.convert`` builds imported PyTorch checkpoints
that way, so they keep their logits. The registered builders keep "same" (the models trained
here); the padding layers hold no weights, so weights move between the two by layer name.
"""

import functools

import keras

from tf_fastls0.models.batch_norm import BatchNormalization
from tf_fastls0.models.flc_pooling import FrequencyLowCutPooling
from tf_fastls0.models.initializers import conv_kwargs, dense_kwargs

BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5
STAGE_CHANNELS = (64, 128, 256, 512)
STAGE_STRIDES = (1, 2, 2, 2)


def preact_resnet(input_shape, num_classes, blocks_per_stage, width=1.0, sync_batchnorm=False,
                  name="preact_resnet", downsampling="strided", pytorch_padding=False):
    """A functional PreAct ResNet with basic blocks; images in [0, 1] go in, logits come out.

    ``downsampling``: "strided" (stride-2 convolutions) or "flc" (FrequencyLowCut pooling, then
    the same convolutions at stride 1, in both the main path and the shortcut, as in the FLC
    reference's ``preact_resnet_flc.py``; our shortcut still starts from the block's first
    activation, where that reference's starts from the block input). ``pytorch_padding``: pad
    the strided convolutions on every side, as PyTorch does (see the module docstring)."""
    batch_norm = functools.partial(BatchNormalization, momentum=BN_MOMENTUM,
                                   epsilon=BN_EPSILON, synchronized=sync_batchnorm)
    images = keras.Input(shape=input_shape, name="images")
    x = _conv(scaled_channels(STAGE_CHANNELS[0], width), 3, 1, "stem_conv", input_shape[-1])(images)
    for stage, (channels, stride) in enumerate(zip(STAGE_CHANNELS, STAGE_STRIDES)):
        for block in range(blocks_per_stage[stage]):
            x = _preact_block(x, scaled_channels(channels, width), stride if block == 0 else 1,
                              batch_norm, f"stage{stage + 1}_block{block + 1}", downsampling,
                              pytorch_padding)
    x = batch_norm(name="head_bn")(x)
    x = keras.layers.ReLU(name="head_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    # float32 logits even under a mixed-precision policy: losses and attacks compare them finely.
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits",
                                **dense_kwargs(x.shape[-1]))(x)
    return keras.Model(images, logits, name=name)


def _preact_block(x, channels, stride, batch_norm, name, downsampling="strided",
                  pytorch_padding=False):
    first = keras.layers.Activation("softplus", name=f"{name}_act1")(batch_norm(name=f"{name}_bn1")(x))
    conv_input = first
    if stride != 1 and downsampling == "flc":
        conv_input, stride = FrequencyLowCutPooling(name=f"{name}_flc")(first), 1
    if stride != 1 or conv_input is not first or x.shape[-1] != channels:
        shortcut = _conv(channels, 1, stride, f"{name}_shortcut", x.shape[-1])(conv_input)
    else:
        shortcut = x
    if stride != 1 and pytorch_padding:
        conv_input = keras.layers.ZeroPadding2D(1, name=f"{name}_conv1_pad")(conv_input)
        y = _conv(channels, 3, stride, f"{name}_conv1", x.shape[-1], padding="valid")(conv_input)
    else:
        y = _conv(channels, 3, stride, f"{name}_conv1", x.shape[-1])(conv_input)
    y = keras.layers.Activation("softplus", name=f"{name}_act2")(batch_norm(name=f"{name}_bn2")(y))
    y = _conv(channels, 3, 1, f"{name}_conv2", channels)(y)
    return keras.layers.Add(name=f"{name}_add")([y, shortcut])


def _conv(channels, kernel, stride, name, in_channels, padding="same"):
    return keras.layers.Conv2D(channels, kernel, strides=stride, padding=padding, use_bias=False,
                               name=name, **conv_kwargs(kernel, in_channels, use_bias=False))


def scaled_channels(channels, width):
    """``channels`` scaled by the width multiplier, at least 1."""
    return max(1, int(round(channels * width)))


preact_resnet18 = functools.partial(preact_resnet, blocks_per_stage=(2, 2, 2, 2),
                                    name="preact_resnet18")
preact_resnet18_flc = functools.partial(preact_resnet, blocks_per_stage=(2, 2, 2, 2),
                                        name="preact_resnet18_flc", downsampling="flc")
preact_resnet34 = functools.partial(preact_resnet, blocks_per_stage=(3, 4, 6, 3),
                                    name="preact_resnet34")
