"""Loads a classifier the trainer exported, for evaluation and for the analyses.

A model path may be a trainer's run folder (``<run>/saved_model``, ``<run>/model.keras``,
``<run>/summary.json``), a SavedModel folder, a ``.keras`` file, or one of a run's training
checkpoints (``<run>/checkpoints/ckpt-<step>``, the prefix of its ``.index`` file: the network is
rebuilt from the run's ``config.json`` and its weights restored, so an unfinished run, or any
epoch of a finished one, can be evaluated and analysed). In a run folder the caller
chooses the format it prefers: evaluation serves logits through the SavedModel's ``serve``
signature (no Python code needed to load it), the analyses prefer the ``.keras`` file (a Keras
model with its weights by name); either falls back to the other. ``.keras`` files load with
``safe_mode=True``. Every problem becomes a ``ModelError`` with one line naming the path.
"""

import dataclasses
import json
import os
from typing import Any, Optional

from tf_fastls0.utils.cli import UsageError

SAVED_MODEL_FILE = "saved_model.pb"
RUN_SAVED_MODEL = "saved_model"
RUN_KERAS_FILE = "model.keras"
RUN_FILES = ("summary.json", "config.json")
SERVING_SIGNATURE = "serve"
FORMATS = ("saved_model", "keras")  # what a run folder holds; ``checkpoint`` is named explicitly
CHECKPOINT = "checkpoint"


class ModelError(UsageError):
    """A model path that cannot be loaded; the message names the path and the reason."""


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """Where a model is: the file or folder to load, its format, and its run folder if any."""
    path: str
    format: str  # one of FORMATS
    run_dir: Optional[str]

    @property
    def default_label(self):
        """The run folder's name (with the checkpoint's, for a checkpoint), else the model
        file's name without its suffix."""
        if self.run_dir and self.format == CHECKPOINT:
            return f"{os.path.basename(self.run_dir)}@{os.path.basename(self.path)}"
        if self.run_dir:
            return os.path.basename(self.run_dir)
        return os.path.splitext(os.path.basename(self.path))[0]


class ServedNetwork:
    """A loaded SavedModel seen as a network: ``serve`` always runs in inference mode.

    ``serve`` is the SavedModel's ``serve`` function (Keras' export, or a ``tf.function``
    attribute of a plain ``tf.Module``), or its ``serve`` signature (keyword input, a dict of one
    output). The weights are the loaded object's variables, or, for an object that does not list
    them (a plain ``tf.Module`` loads as a bare trackable), the variables ``serve`` reads."""

    def __init__(self, loaded, serve, input_spec, variables, trainable_variables):
        self._loaded = loaded  # owns every variable ``serve`` reads (BatchNorm statistics too)
        self._serve = serve
        self.trainable_variables = list(trainable_variables)
        self.weights = list(variables)
        self.input_shape = tuple(input_spec.shape)
        self.name = ""

    def __call__(self, images, training=False):
        del training  # the exported function is the inference-mode forward pass
        return self._serve(images)


@dataclasses.dataclass
class LoadedModel:
    """``network(images, training=False) -> logits`` with its weights, its source, and its label
    in reports and plots."""
    network: Any  # a keras.Model or a ServedNetwork
    source: ModelSource
    label: str

    def model_fn(self, images):
        return self.network(images, training=False)

    @property
    def variables(self):
        """Every weight, BatchNorm statistics included (what the weights hash covers)."""
        return list(self.network.weights)

    @property
    def image_shape(self):
        """(H, W, C); None where the model leaves a dimension open."""
        return tuple(self.network.input_shape[1:])

    def num_classes(self, image_shape):
        """The number of logits the model gives for one image of ``image_shape`` (H, W, C)."""
        import numpy as np

        logits = self.model_fn(np.zeros([1, *image_shape], np.float32))
        return int(logits.shape[-1])

    @property
    def path(self):
        return self.source.path

    @property
    def format(self):
        return self.source.format

    @property
    def run_dir(self):
        return self.source.run_dir

    @property
    def run_config(self):
        """The run's training config (``summary.json``'s ``config``, else ``config.json``)."""
        return read_run_files(self.run_dir).get("config")

    @property
    def run_summary(self):
        return read_run_files(self.run_dir).get("summary")

    @property
    def architecture(self):
        """The registry name of the run's model with its width, else the Keras model's name."""
        config = self.run_config or {}
        if config.get("model"):
            width = config.get("width", 1.0)
            return config["model"] if width == 1.0 else f"{config['model']} (width {width:g})"
        return self.network.name or "unknown"


def load_model(path, prefer="saved_model", label=None):
    """Loads the model at ``path`` (a path or a ``ModelSource``); raises ``ModelError``."""
    source = path if isinstance(path, ModelSource) else locate(path, prefer)
    if source.format == "saved_model":
        network = _load_saved_model(source.path)
    elif source.format == CHECKPOINT:
        network = _load_checkpoint(source.path, source.run_dir)
    else:
        network = _load_keras(source.path)
    return LoadedModel(network, source, label or source.default_label)


def locate(path, prefer="saved_model"):
    """The ``ModelSource`` for a user's model path; in a run folder, ``prefer`` picks the format."""
    if prefer not in FORMATS:
        raise ValueError(f"prefer must be one of {FORMATS}, got {prefer!r}")
    path = os.path.normpath(os.path.abspath(os.path.expanduser(path)))
    if os.path.isfile(path + ".index"):
        return ModelSource(path, CHECKPOINT, _run_dir_of(os.path.dirname(os.path.dirname(path))))
    if not os.path.exists(path):
        raise ModelError(f"--model {path}: no such file or folder")
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, SAVED_MODEL_FILE)):
            return ModelSource(path, "saved_model", _run_dir_of(os.path.dirname(path)))
        in_run = {"saved_model": os.path.join(path, RUN_SAVED_MODEL),
                  "keras": os.path.join(path, RUN_KERAS_FILE)}
        for fmt in (prefer, *[other for other in FORMATS if other != prefer]):
            if _holds(fmt, in_run[fmt]):
                return ModelSource(in_run[fmt], fmt, path)
        raise ModelError(f"not a tf_fastls0 model: folder {path} holds no {SAVED_MODEL_FILE}, "
                         f"{RUN_SAVED_MODEL}/ or {RUN_KERAS_FILE}")
    if path.endswith(".keras"):
        return ModelSource(path, "keras", _run_dir_of(os.path.dirname(path)))
    raise ModelError(f"not a tf_fastls0 model: {path} is neither a .keras file nor a SavedModel "
                     "or run folder")


def _holds(fmt, path):
    if fmt == "saved_model":
        return os.path.isfile(os.path.join(path, SAVED_MODEL_FILE))
    return os.path.isfile(path)


def read_run_files(run_dir):
    """``{"summary": ..., "config": ...}`` from a run folder's JSON files (missing keys absent)."""
    if not run_dir:
        return {}
    found = {}
    for name in RUN_FILES:
        try:
            with open(os.path.join(run_dir, name)) as handle:
                content = json.load(handle)
        except (OSError, ValueError):
            continue  # a damaged file is as good as a missing one: its settings stay unknown
        if isinstance(content, dict):
            found[name.removesuffix(".json")] = content
    if "config" not in found and isinstance(found.get("summary", {}).get("config"), dict):
        found["config"] = found["summary"]["config"]
    return found


def _run_dir_of(folder):
    """The run folder a model sits in, recognised by its summary.json or config.json."""
    return folder if any(os.path.isfile(os.path.join(folder, f)) for f in RUN_FILES) else None


def _load_saved_model(path):
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(path)
    except Exception as error:  # noqa: BLE001  (any loader failure is one clear line)
        raise ModelError(f"cannot load the SavedModel at {path}: {_first_line(error)}") from None
    served = _serving_function(loaded)
    if served is None:
        raise ModelError(f"not a tf_fastls0 model: the SavedModel at {path} has no "
                         f"'{SERVING_SIGNATURE}' function taking one [N, H, W, C] image batch")
    serve, spec, concrete = served
    variables = _listed(loaded, "variables") or concrete.variables
    trainable = _listed(loaded, "trainable_variables") or concrete.trainable_variables
    return ServedNetwork(loaded, serve, spec, variables, trainable)


def _serving_function(loaded):
    """``(serve, input spec, concrete function)`` of the ``serve`` function or signature of one
    [N, H, W, C] input, else None."""
    function = getattr(loaded, SERVING_SIGNATURE, None)
    specs = getattr(function, "input_signature", None)
    if function is not None and specs and len(specs) == 1 and _is_image_batch(specs[0]):
        return function, specs[0], function.get_concrete_function()
    signature = getattr(loaded, "signatures", {}).get(SERVING_SIGNATURE)
    if signature is None:
        return None
    args, kwargs = signature.structured_input_signature
    outputs = signature.structured_outputs
    if args or len(kwargs) != 1 or not isinstance(outputs, dict) or len(outputs) != 1:
        return None
    (name, spec), = kwargs.items()
    if not _is_image_batch(spec):
        return None
    (output,) = outputs

    def serve(images):
        return signature(**{name: images})[output]

    return serve, spec, signature


def _is_image_batch(spec):
    return getattr(spec, "shape", None) is not None and spec.shape.rank == 4


def _listed(loaded, name):
    """``loaded.<name>`` where the loaded object lists its variables (Keras' export does), else
    None (a plain ``tf.Module`` loads as a bare trackable without the property)."""
    try:
        return list(getattr(loaded, name))
    except (AttributeError, TypeError):
        return None


def _load_keras(path):
    import keras

    import tf_fastls0.models  # noqa: F401  (the project's layers, should a model need them)

    try:
        network = keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # noqa: BLE001
        raise ModelError(f"cannot load the Keras model at {path}: {_first_line(error)}") from None
    shape = getattr(network, "input_shape", None)
    if not isinstance(network, keras.Model) or not isinstance(shape, tuple) or len(shape) != 4:
        raise ModelError(f"not a tf_fastls0 model: {path} is not a Keras model taking one "
                         "[N, H, W, C] image batch")
    return network


def _load_checkpoint(prefix, run_dir):
    """The run's network, built as its ``config.json`` says, with the checkpoint's weights."""
    import tensorflow as tf

    from tf_fastls0.models import build_model

    config = read_run_files(run_dir).get("config")
    if not config or "model" not in config:
        raise ModelError(f"cannot load the checkpoint {prefix}: it is not in a run folder with a "
                         "config.json saying which model it holds")
    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as error:  # noqa: BLE001
        raise ModelError(f"cannot read the checkpoint {prefix}: {_first_line(error)}") from None
    size = (config.get("data") or {}).get("image_size")
    if config["model"].endswith(".keras"):  # a user's architecture (--model=<file>.keras)
        network = _load_keras(config["model"])
    else:
        network = build_model(config["model"], (size, size, 3), _classes_in(reader, prefix),
                              config.get("width", 1.0))
    try:
        tf.train.Checkpoint(network=network).restore(prefix).expect_partial() \
            .assert_existing_objects_matched()
    except Exception as error:  # noqa: BLE001
        raise ModelError(f"the checkpoint {prefix} does not hold the weights of the run's "
                         f"{config['model']}: {_first_line(error)}") from None
    return network


def _classes_in(reader, prefix):
    """The number of classes: the width of the network's last dense kernel. A training checkpoint
    lists the trainable weights in the optimizer, in the network's order; the last one of rank 2
    is the classifier's kernel (convolution kernels have rank 4)."""
    listed = "optimizer/_trainable_variables/"
    kernels = [(int(name[len(listed):].split("/")[0]), shape[1])
               for name, shape in reader.get_variable_to_shape_map().items()
               if name.startswith(listed) and len(shape) == 2]
    if not kernels:
        raise ModelError(f"cannot load the checkpoint {prefix}: it is not a tf_fastls0.train "
                         "checkpoint (no classifier among its trainable weights)")
    return max(kernels)[1]


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
