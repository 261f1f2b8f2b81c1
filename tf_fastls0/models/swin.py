"""Swin Transformer for 32x32 images (paper Table 10: "tiny versions with about ResNet-18's
parameter count"), built from Keras' own layers and ops.

The CIFAR-10 form follows kentaroy47/vision-transformers-cifar10 (``--net swin``:
``swin_t(window_size=4, downscaling_factors=(2, 2, 2, 1))``, after berniwal/swin-transformer-pytorch):
four stages of depths 2, 2, 6, 2, each opened by a patch merging (the ``f x f`` patches of the
previous map, linearly projected: here a ``f x f`` stride-``f`` conv, the same map) with factors
2, 2, 2, 1, so a 32x32 image gives maps of 16, 8, 4 and 4; windows of 4x4; attention heads of 32
channels; alternate blocks shift their windows by half a window (cyclic roll, masked). Block:
x + W-MSA(LayerNorm(x)), then x + MLP(LayerNorm(x)) (Dense 4C -> GELU -> Dense C); attention has
a learned relative-position bias per window offset, queries/keys/values from one bias-free Dense.
Head: global average pool -> LayerNorm -> dense. LayerNorm epsilon 1e-5 (PyTorch's default).

Deviations, each noted here:
- Widths 64, 128, 256, 512 (heads 2, 4, 8, 16) instead of Swin-T's 96 ... 768 (heads 3 ... 24):
  the reference's Swin-T has 26.6M trainable parameters for 10 classes; the paper's Table 10
  networks have about ResNet-18's, and these widths give 11.84M (PreAct ResNet-18: 11.17M).
- Where a stage's map is no larger than a window (the 4x4 stages here), the window is the whole
  map and it is not shifted, as the official Swin does; the reference shifts and masks it anyway.
- The relative-position bias table has one column per head, as in the official Swin (the
  reference shares one column across heads); the shift mask adds -100 as the official Swin does
  (the reference adds -inf).
- Weights: timm's Swin initialisation (every Dense/Conv kernel N(0, 0.02^2), biases zero, the
  bias table N(0, 0.02^2)) rather than PyTorch's defaults and randn, which the reference leaves.
- Images go in unnormalised, as for every model here.

Keras ships no Swin block (keras_hub does, but is not installed), so the block is written here
with built-in layers (``Dense``, ``Conv2D``, ``LayerNormalization``, ``Embedding`` for the bias
table) and ``keras.ops`` (roll, reshape, einsum, softmax); the window offsets and shift masks are
constants in the graph. The ``.keras`` file loads in safe mode with no custom objects.
``width`` scales every stage's channels and heads.
"""

import functools

import keras
import numpy as np
from keras import ops

from tf_fastls0.models.initializers import timm_kernel_initializer
from tf_fastls0.models.preact_resnet import scaled_channels

LAYER_NORM_EPSILON = 1e-5
MASKED = -100.0


def swin(input_shape, num_classes, depths, dims, heads, downscaling, window_size, width=1.0,
         sync_batchnorm=False, name="swin"):
    """A functional Swin Transformer; images in [0, 1] go in, logits come out.
    ``sync_batchnorm`` is accepted for the common builder signature: there is no BatchNorm."""
    del sync_batchnorm
    images = keras.Input(shape=input_shape, name="images")
    x = images
    for stage, (depth, dim, head_count, factor) in enumerate(zip(depths, dims, heads, downscaling)):
        channels = scaled_channels(dim, width)
        head_count = max(1, int(round(head_count * width)))
        x = _dense_conv(channels, factor, f"stage{stage + 1}_patch_merge")(x)
        size = _map_size(x, window_size)
        window = min(window_size, size)
        for block in range(depth):
            shift = window // 2 if block % 2 == 1 and size > window else 0
            x = _swin_block(x, head_count, window, shift, f"stage{stage + 1}_block{block + 1}")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="head_norm")(x)
    # float32 logits even under a mixed-precision policy: losses and attacks compare them finely.
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits",
                                kernel_initializer=timm_kernel_initializer())(x)
    return keras.Model(images, logits, name=name)


def _map_size(x, window_size):
    height, width = x.shape[1:3]
    if height != width or (height > window_size and height % window_size):
        raise ValueError(f"swin needs square maps that windows of {window_size} tile; a stage "
                         f"sees {height}x{width}")
    return height


def _dense_conv(channels, kernel, name):
    return keras.layers.Conv2D(channels, kernel, strides=kernel, name=name,
                               kernel_initializer=timm_kernel_initializer())


def _dense(units, name, use_bias=True):
    return keras.layers.Dense(units, use_bias=use_bias, name=name,
                              kernel_initializer=timm_kernel_initializer())


def _swin_block(x, heads, window, shift, name):
    norm = functools.partial(keras.layers.LayerNormalization, epsilon=LAYER_NORM_EPSILON)
    y = _window_attention(norm(name=f"{name}_norm1")(x), heads, window, shift, name)
    x = keras.layers.Add(name=f"{name}_add1")([x, y])
    channels = x.shape[-1]
    y = _dense(4 * channels, f"{name}_mlp1")(norm(name=f"{name}_norm2")(x))
    y = keras.layers.Activation("gelu", name=f"{name}_gelu")(y)
    y = _dense(channels, f"{name}_mlp2")(y)
    return keras.layers.Add(name=f"{name}_add2")([x, y])


def _window_attention(x, heads, window, shift, name):
    size, channels = x.shape[1], x.shape[-1]
    if channels % heads:
        raise ValueError(f"swin: {channels} channels do not split into {heads} heads")
    head_dim, windows = channels // heads, (size // window) ** 2
    if shift:
        x = ops.roll(x, shift=(-shift, -shift), axis=(1, 2))
    qkv = _dense(3 * channels, f"{name}_qkv", use_bias=False)(x)
    q, k, v = ops.unstack(_to_windows(qkv, size, window, 3 * heads, head_dim), 3, axis=2)
    dots = ops.einsum("bnhid,bnhjd->bnhij", q, k) * (head_dim ** -0.5)
    dots = dots + _relative_position_bias(x, heads, window, name)
    if shift:
        dots = dots + _shift_mask(size, window, shift)[:, None]
    attention = ops.softmax(dots, axis=-1)
    out = ops.einsum("bnhij,bnhjd->bnhid", attention, v)
    out = _from_windows(out, size, window, channels)
    out = _dense(channels, f"{name}_proj")(out)
    if shift:
        out = ops.roll(out, shift=(shift, shift), axis=(1, 2))
    return out


def _to_windows(x, size, window, heads, head_dim):
    """(B, S, S, heads * head_dim) -> (B, windows, heads, window^2, head_dim); for the qkv tensor
    ``heads`` is 3x the attention heads, split into q, k, v (axis 2) by the caller."""
    count = size // window
    x = ops.reshape(x, (-1, count, window, count, window, heads, head_dim))
    x = ops.transpose(x, (0, 1, 3, 5, 2, 4, 6))
    x = ops.reshape(x, (-1, count * count, heads, window * window, head_dim))
    return ops.reshape(x, (-1, count * count, 3, heads // 3, window * window, head_dim))


def _from_windows(x, size, window, channels):
    """(B, windows, heads, window^2, head_dim) -> (B, S, S, channels)."""
    count, heads, head_dim = size // window, x.shape[2], x.shape[-1]
    x = ops.reshape(x, (-1, count, count, heads, window, window, head_dim))
    x = ops.transpose(x, (0, 1, 4, 2, 5, 3, 6))
    return ops.reshape(x, (-1, size, size, channels))


def _relative_position_bias(x, heads, window, name):
    """(heads, window^2, window^2): a learned bias per head and relative offset of two pixels of a
    window, looked up in an ``Embedding`` table; the lookup hangs off ``x`` (as a zero that does
    not depend on its values) so that the table is a layer of the graph."""
    zero = ops.sum(ops.zeros_like(x[:1, :1, :1, :1], dtype="int32"))
    table = keras.layers.Embedding(
        (2 * window - 1) ** 2, heads, name=f"{name}_relative_position_bias",
        embeddings_initializer=timm_kernel_initializer())
    bias = table(zero + _relative_position_index(window))
    return ops.transpose(bias, (2, 0, 1))


def _relative_position_index(window):
    coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing="ij"), -1)
    coords = coords.reshape(-1, 2)
    offsets = coords[:, None, :] - coords[None, :, :] + (window - 1)
    return (offsets[..., 0] * (2 * window - 1) + offsets[..., 1]).astype("int32")


def _shift_mask(size, window, shift):
    """(windows, window^2, window^2): MASKED between pixels that the cyclic shift brought
    together from different regions of the map, 0 elsewhere."""
    bands = np.zeros(size, dtype=np.int32)
    bands[size - window:size - shift] = 1
    bands[size - shift:] = 2
    regions = bands[:, None] * 3 + bands[None, :]
    count = size // window
    regions = regions.reshape(count, window, count, window).transpose(0, 2, 1, 3)
    regions = regions.reshape(count * count, window * window)
    return np.where(regions[:, :, None] == regions[:, None, :], 0.0, MASKED).astype("float32")


swin_tiny = functools.partial(swin, depths=(2, 2, 6, 2), dims=(64, 128, 256, 512),
                              heads=(2, 4, 8, 16), downscaling=(2, 2, 2, 1), window_size=4,
                              name="swin_tiny")
