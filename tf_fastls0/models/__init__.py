"""Models by name. Every builder takes ``(input_shape, num_classes, width, sync_batchnorm)`` and
returns a Keras model that maps images in [0, 1] to logits."""

from tf_fastls0.models.convnext import convnext_tiny
from tf_fastls0.models.preact_resnet import preact_resnet18, preact_resnet18_flc, preact_resnet34
from tf_fastls0.models.resnet import resnet34
from tf_fastls0.models.small_cnn import small_cnn, small_cnn_nobn
from tf_fastls0.models.swin import swin_tiny

MODELS = {
    "convnext_tiny": convnext_tiny,
    "preact_resnet18": preact_resnet18,
    "preact_resnet34": preact_resnet34,
    "resnet34": resnet34,
    "small_cnn": small_cnn,
    "small_cnn_nobn": small_cnn_nobn,
    "swin_tiny": swin_tiny,
    "preact_resnet18_flc": preact_resnet18_flc,  # FLC Pool (Table 6): FFT low-pass downsampling
}


def build_model(name, input_shape, num_classes, width=1.0, sync_batchnorm=False):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(sorted(MODELS))}")
    return MODELS[name](input_shape=tuple(input_shape), num_classes=num_classes, width=width,
                        sync_batchnorm=sync_batchnorm)
