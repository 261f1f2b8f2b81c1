"""Every model starts from the reference code's initialisation: PyTorch's default (conv and dense
kernels and biases uniform on +-1/sqrt(fan_in)), except the ImageNet ResNet's convolutions, which
torchvision re-initialises Kaiming-normal (fan_out, ReLU gain); BatchNorm gamma 1 and beta 0."""

import math

import numpy as np
import pytest

from tf_fastls0.models import MODELS, build_model

# A uniform draw's sample standard deviation is within ~0.45/sqrt(n) of bound/sqrt(3) (relative);
# from MIN_SIZE values on, STD_TOLERANCE is over four of those, and he_normal (2.45x) fails it.
MIN_SIZE = 144
STD_TOLERANCE = 0.15


def kernel_fan_in(kernel):
    return int(np.prod(kernel.shape[:-1]))


def weighted_layers(model):
    return [layer for layer in model.layers
            if layer.__class__.__name__ in ("Conv2D", "Dense")]


TORCHVISION_CONVS = {"resnet34"}


def uniform_layers(name, model):
    return [layer for layer in weighted_layers(model)
            if not (name in TORCHVISION_CONVS and layer.__class__.__name__ == "Conv2D")]


TIMM_INITIALISED = {"convnext_tiny", "swin_tiny"}  # their CIFAR-10 references train from timm's


@pytest.mark.parametrize("name", sorted(set(MODELS) - TIMM_INITIALISED))
def test_kernels_and_biases_are_uniform_on_the_pytorch_interval(name):
    model = build_model(name, (16, 16, 3), 10, width=0.25)
    layers = uniform_layers(name, model)
    assert layers
    for layer in layers:
        bound = 1.0 / math.sqrt(kernel_fan_in(layer.kernel))
        for weight in [layer.kernel] + ([layer.bias] if layer.use_bias else []):
            values = np.asarray(weight.numpy())
            assert np.abs(values).max() <= bound, weight.path
            if values.size >= MIN_SIZE:
                assert values.std() == pytest.approx(bound / math.sqrt(3), rel=STD_TOLERANCE), \
                    weight.path


@pytest.mark.parametrize("name", sorted(TORCHVISION_CONVS))
def test_imagenet_resnet_convolutions_are_kaiming_normal_on_fan_out(name):
    model = build_model(name, (32, 32, 3), 10, width=0.5)
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert convs
    for layer in convs:
        values = np.asarray(layer.kernel.numpy())
        size, _, _, out_channels = values.shape
        expected = math.sqrt(2.0 / (size * size * out_channels))
        assert not layer.use_bias
        assert abs(values.mean()) < 4 * expected / math.sqrt(values.size), layer.name
        assert values.std() == pytest.approx(expected, rel=STD_TOLERANCE), layer.name


@pytest.mark.parametrize("name", sorted(MODELS))
def test_batchnorm_starts_as_the_identity_scale_and_shift(name):
    model = build_model(name, (16, 16, 3), 10, width=0.25)
    for layer in model.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            np.testing.assert_array_equal(layer.gamma.numpy(), 1.0)
            np.testing.assert_array_equal(layer.beta.numpy(), 0.0)


@pytest.mark.parametrize("name", sorted(TIMM_INITIALISED))
def test_transformer_era_models_start_from_timm_s_normal_kernels_and_zero_biases(name):
    model = build_model(name, (16, 16, 3), 10, width=0.25)
    layers = weighted_layers(model)
    assert layers
    for layer in layers:
        kernel = np.asarray(layer.kernel.numpy())
        if kernel.size >= MIN_SIZE:
            assert kernel.std() == pytest.approx(0.02, rel=STD_TOLERANCE), layer.kernel.path
        if layer.use_bias:
            np.testing.assert_array_equal(layer.bias.numpy(), 0.0)
