"""The reference code's starting weights: PyTorch's default initialisation, in one place.

PyTorch initialises ``nn.Conv2d`` and ``nn.Linear`` kernels Kaiming-uniform with a = sqrt(5),
which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and their biases from the same interval. Keras' own
``VarianceScaling(scale=1/3, mode="fan_in", distribution="uniform")`` draws exactly that kernel;
the bias bound needs the kernel's fan_in, so it is computed here, when the layer is made, and
stored in a built-in ``RandomUniform`` (``.keras`` files still load in safe mode). BatchNorm keeps
Keras' defaults, gamma 1 and beta 0, as PyTorch does.
"""

import math

import keras


def uniform_bound(fan_in):
    """Half-width of PyTorch's default interval for a layer with ``fan_in`` inputs per output."""
    return 1.0 / math.sqrt(fan_in)


def conv_kwargs(kernel_size, in_channels, use_bias=True):
    """Initialiser keyword arguments for a square ``Conv2D`` over ``in_channels`` channels."""
    return _kwargs(kernel_size * kernel_size * in_channels, use_bias)


def dense_kwargs(in_features, use_bias=True):
    """Initialiser keyword arguments for a ``Dense`` layer over ``in_features`` inputs."""
    return _kwargs(in_features, use_bias)


def _kwargs(fan_in, use_bias):
    kwargs = {"kernel_initializer": keras.initializers.VarianceScaling(
        scale=1.0 / 3.0, mode="fan_in", distribution="uniform")}
    if use_bias:
        bound = uniform_bound(fan_in)
        kwargs["bias_initializer"] = keras.initializers.RandomUniform(-bound, bound)
    return kwargs


def torchvision_resnet_conv_kwargs():
    """torchvision's ResNet re-initialises its convolutions Kaiming-normal with mode "fan_out" and
    the ReLU gain: N(0, 2 / (k * k * out_channels)); they have no bias."""
    return {"kernel_initializer": keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal")}


# timm's ConvNeXt and Swin draw every Conv2d/Linear weight with trunc_normal_(std=.02), whose
# bounds are -2 and 2 in absolute value (a hundred standard deviations): in effect N(0, 0.02^2).
# Keras' TruncatedNormal cuts at two standard deviations instead, so the plain normal matches.
TIMM_KERNEL_STDDEV = 0.02


def timm_kernel_initializer():
    return keras.initializers.RandomNormal(stddev=TIMM_KERNEL_STDDEV)


def reinitialize_like_timm(model):
    """timm's ``_init_weights`` over a built model: every Conv2D/Dense kernel from N(0, 0.02^2) and
    its bias zero (LayerNorm keeps gamma 1, beta 0). For blocks made by Keras' own builders, whose
    initialisers cannot be chosen."""
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            layer.kernel.assign(timm_kernel_initializer()(layer.kernel.shape, layer.kernel.dtype))
            if layer.bias is not None:
                layer.bias.assign(keras.ops.zeros_like(layer.bias))
