"""PyTorch checkpoints of the sPGD authors' models as Keras models of ours (``python -m
tf_fastls0.convert``); needs the ``torch`` extra (``pip install -e ".[torch]"``).

Two layouts, each mapped onto one of our architectures:

- ``preact_resnet18``: the reference code's ``PreActResNet18`` (sPGD repository,
  ``adversarial_training/model.py``): ``conv1``, ``layer{1-4}.{0,1}.{bn1,conv1,bn2,conv2}``,
  ``layer*.0.shortcut.0`` (a 1x1 convolution of the block's first activation), ``bn`` (head) and
  ``linear``; no convolution biases. Its default activation ``softplus1`` (softplus, beta 1) is
  our blocks' softplus; the head's ReLU is ours too. Built with ``pytorch_padding=True``
  (``models/preact_resnet.py``) so the strided convolutions pad as PyTorch does.
- ``resnet34``: torchvision's ``resnet34`` (what the reference uses for ImageNet-100): ``conv1``,
  ``bn1``, ``layer{1-4}.{i}.{conv1,bn1,conv2,bn2}``, ``layer*.0.downsample.{0,1}`` and ``fc``.

Convolutions move from PyTorch's ``[out, in, kh, kw]`` to Keras' ``[kh, kw, in, out]``, dense
weights are transposed, and BatchNorm takes ``weight, bias, running_mean, running_var`` as
``gamma, beta, moving_mean, moving_variance`` (``num_batches_tracked`` is dropped; epsilon 1e-5 in
both). The width multiplier is read from the stem's channel count. A checkpoint may wrap its
state dict in a dict (``{"state_dict": ...}``, ``{"model": ...}``, ...) and prefix its keys
(``module.`` from ``DataParallel``, or any prefix ahead of the head's key, such as a
``Sequential(normalize, net)``'s ``1.``). Files load with ``torch.load(weights_only=True)``, so
no code in a checkpoint runs: a whole pickled ``nn.Module`` is refused in one line saying to save
its state dict. The ``.keras`` file written holds Keras' own layers only (our fused
``BatchNormalization`` swapped for Keras', as the training's export does), so it loads in a plain
``keras.saving.load_model`` without this package.

Not carried over: the reference's ``Normalize`` (its mean and std are plain attributes, not in
the state dict); our models take images in [0, 1] unnormalised, as the reference's default
(``normal='none'``) does. A checkpoint trained with input normalisation gives wrong logits here,
and nothing in the file tells.
"""

import dataclasses
import os
import re

import numpy as np

from tf_fastls0.utils.atomic import atomic_path
from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.settings import setting

ARCHITECTURES = ("preact_resnet18", "resnet34")
_ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")
_PICKLED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
DEFAULT_IMAGE_SIZE = {"preact_resnet18": 32, "resnet34": 224}
HEAD_KEY = {"preact_resnet18": "linear.weight", "resnet34": "fc.weight"}
STEM_KEY = "conv1.weight"
# Keys that commonly hold the state dict in a checkpoint that also holds the optimiser, the
# epoch, ...; tried in this order.
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net", "network", "ema",
                "state_dict_ema")
BN_VARIABLES = ("weight", "bias", "running_mean", "running_var")  # Keras' order
IGNORED_SUFFIXES = (".num_batches_tracked",)


class CheckpointError(UsageError):
    """A checkpoint that cannot be read, or does not fit the named architecture; one line."""


@dataclasses.dataclass(frozen=True)
class ConvertConfig:
    """The settings of ``python -m tf_fastls0.convert``."""
    pytorch: str = setting(help="The PyTorch checkpoint (.pth/.pt) to convert.",
                           changes_results=False)
    model: str = setting(help="Its architecture: preact_resnet18 (the sPGD reference code's "
                         "PreActResNet18, CIFAR-10) or resnet34 (torchvision's, ImageNet-100).",
                         choices=ARCHITECTURES)
    num_classes: int = setting(help="Classes of the checkpoint's head.", lower=1)
    output: str = setting(help="The .keras file to write.", changes_results=False)
    image_size: int = setting(0, "Input height and width (0: 32 for preact_resnet18, 224 for "
                              "resnet34).", lower=0, upper=4096)

    def __post_init__(self):
        if not self.output.endswith(".keras"):
            raise UsageError(f"--output={self.output} must end in .keras")


def convert(config):
    """Reads ``config.pytorch``, writes ``config.output`` (atomically) and returns the model."""
    from tf_fastls0.models.precision import float32

    folder = os.path.dirname(os.path.abspath(config.output))
    if not os.path.isdir(folder):
        raise UsageError(f"--output={config.output}: folder {folder} does not exist")
    state = load_state_dict(config.pytorch)
    # Keras' own BatchNormalization in place of ours, as the training's export has it, so the
    # file loads with Keras alone
    network = float32(keras_model_from_state_dict(state, config.model, config.num_classes,
                                                  config.image_size, source=config.pytorch))
    with atomic_path(config.output) as temporary:
        network.save(temporary + ".keras")  # Keras insists on the suffix
        os.replace(temporary + ".keras", temporary)
    return network


def convert_pytorch(pytorch, model, num_classes, output, image_size=0):
    """The Python form of the command: ``convert_pytorch("ckpt.pth", "preact_resnet18", 10,
    "model.keras")``; returns the Keras model written."""
    return convert(ConvertConfig(pytorch=pytorch, model=model, num_classes=num_classes,
                                 output=output, image_size=image_size))


def load_state_dict(path):
    """The checkpoint's tensors as ``{key: np.ndarray}``, unwrapped and with ``module.`` removed.
    Raises ``CheckpointError`` naming the file if it is not a PyTorch checkpoint of tensors."""
    try:
        import torch
    except ImportError as error:
        raise UsageError("converting a PyTorch checkpoint needs torch: "
                         "pip install -e \".[torch]\"") from error
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a truncated or foreign file
        raise CheckpointError(_unreadable(path, error)) from None
    state = _unwrap(loaded, torch)
    if state is None:
        raise CheckpointError(f"{path} holds no state dict of tensors (top-level keys: "
                              f"{_keys_of(loaded)})")
    return {_strip_module(key): value.detach().cpu().numpy() for key, value in state.items()
            if not key.endswith(IGNORED_SUFFIXES)}


def keras_model_from_state_dict(state, model, num_classes, image_size=0, source="checkpoint"):
    """Our ``model`` with the weights of ``state`` (``{key: array}`` in the PyTorch layout);
    raises ``CheckpointError`` naming the first missing, unexpected or mis-shaped key."""
    from tf_fastls0.models.preact_resnet import preact_resnet18
    from tf_fastls0.models.resnet import resnet34

    if model not in ARCHITECTURES:
        raise UsageError(f"unknown model {model!r}: choose one of {', '.join(ARCHITECTURES)}")
    state = _without_prefix(state, HEAD_KEY[model])
    if STEM_KEY not in state:
        raise CheckpointError(f"{source} does not fit {model}: missing key {STEM_KEY}")
    width = state[STEM_KEY].shape[0] / 64
    size = image_size or DEFAULT_IMAGE_SIZE[model]
    input_shape = (size, size, state[STEM_KEY].shape[1])
    if model == "preact_resnet18":
        network = preact_resnet18(input_shape=input_shape, num_classes=num_classes, width=width,
                                  pytorch_padding=True)
        name_of = _preact_key
    else:
        network = resnet34(input_shape=input_shape, num_classes=num_classes, width=width)
        name_of = _torchvision_key
    _assign(network, state, name_of, model, source)
    return network


def _assign(network, state, name_of, model, source):
    used = set()
    for layer in network.layers:
        if not layer.weights:
            continue
        prefix = name_of(layer.name)
        kind = type(layer).__name__
        suffixes = {"Conv2D": ("weight",), "Dense": ("weight", "bias"),
                    "BatchNormalization": BN_VARIABLES}[kind]
        values = []
        for suffix, variable in zip(suffixes, layer.weights):
            key = f"{prefix}.{suffix}"
            expected = _torch_shape(kind, suffix, tuple(variable.shape))
            if key not in state:
                raise CheckpointError(f"{source} does not fit {model}: missing key {key} "
                                      f"(expected shape {_shape(expected)})")
            if tuple(state[key].shape) != expected:
                raise CheckpointError(f"{source} does not fit {model}: {key} has shape "
                                      f"{_shape(state[key].shape)}, expected {_shape(expected)}")
            values.append(_to_keras(kind, suffix, state[key]))
            used.add(key)
        layer.set_weights(values)
    unexpected = [key for key in state if key not in used]
    if unexpected:
        raise CheckpointError(f"{source} does not fit {model}: unexpected key {unexpected[0]} "
                              f"(shape {_shape(state[unexpected[0]].shape)})")


def _torch_shape(kind, suffix, keras_shape):
    if kind == "Conv2D":
        kh, kw, cin, cout = keras_shape
        return (cout, cin, kh, kw)
    if kind == "Dense" and suffix == "weight":
        return keras_shape[::-1]
    return keras_shape


def _to_keras(kind, suffix, value):
    value = np.asarray(value, np.float32)
    if kind == "Conv2D":
        return np.transpose(value, (2, 3, 1, 0))
    if kind == "Dense" and suffix == "weight":
        return value.T
    return value


def _block_key(name):
    """``stage2_block1_conv1`` -> ``("layer2.0", "conv1")``."""
    stage, block, part = name.split("_", 2)
    return f"layer{stage[len('stage'):]}.{int(block[len('block'):]) - 1}", part


def _preact_key(name):
    """Our preact_resnet18 layer name -> the reference's state-dict prefix."""
    fixed = {"stem_conv": "conv1", "head_bn": "bn", "logits": "linear"}
    if name in fixed:
        return fixed[name]
    block, part = _block_key(name)
    return f"{block}.{'shortcut.0' if part == 'shortcut' else part}"


def _torchvision_key(name):
    """Our resnet34 layer name -> torchvision's state-dict prefix."""
    fixed = {"stem_conv": "conv1", "stem_bn": "bn1", "logits": "fc"}
    if name in fixed:
        return fixed[name]
    block, part = _block_key(name)
    part = {"shortcut": "downsample.0", "shortcut_bn": "downsample.1"}.get(part, part)
    return f"{block}.{part}"


def _unreadable(path, error):
    """One line on why ``torch.load(weights_only=True)`` refused ``path``: a pickled object
    (a whole ``nn.Module``) named with what to save instead, else the first sentence of torch's
    text without its terminal colour codes."""
    text = _ANSI_CODES.sub("", str(error))
    pickled = _PICKLED_GLOBAL.search(text)
    if pickled:
        return (f"{path} holds a pickled Python object ({pickled.group(1)}), not only tensors, "
                "and loading it would run the file's code; save the state dict instead "
                "(torch.save(model.state_dict(), path)) and convert that")
    first = text.strip().split("\n")[0].strip()
    reason = re.split(r"(?<=[.!?])\s", first)[0] if first else type(error).__name__
    return f"{path} is not a readable PyTorch checkpoint ({reason.rstrip('.')})"


def _unwrap(loaded, torch, depth=0):
    """The dict of tensors inside ``loaded``, or None."""
    if not isinstance(loaded, dict) or depth > 3:
        return None
    if loaded and all(isinstance(value, torch.Tensor) for value in loaded.values()):
        return loaded
    for key in WRAPPER_KEYS:
        found = _unwrap(loaded.get(key), torch, depth + 1)
        if found is not None:
            return found
    nested = [found for found in (_unwrap(value, torch, depth + 1) for value in loaded.values())
              if found is not None]
    return nested[0] if len(nested) == 1 else None


def _strip_module(key):
    while key.startswith("module."):
        key = key[len("module."):]
    return key


def _without_prefix(state, head_key):
    """``state`` with the prefix ahead of ``head_key`` removed from the keys that carry it."""
    if head_key in state:
        return state
    prefixes = {key[:-len(head_key)] for key in state if key.endswith("." + head_key)}
    if len(prefixes) != 1:
        return state
    prefix = prefixes.pop()
    return {key[len(prefix):] if key.startswith(prefix) else key: value
            for key, value in state.items()}


def _keys_of(loaded):
    if not isinstance(loaded, dict):
        return type(loaded).__name__
    keys = list(loaded)[:5]
    return ", ".join(map(str, keys)) + (", ..." if len(loaded) > 5 else "")


def _shape(shape):
    return "(" + ", ".join(str(int(n)) for n in shape) + ")"
