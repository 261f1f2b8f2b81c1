"""The model to evaluate: a SavedModel folder, a ``.keras`` file, or a trainer's run folder.

A run folder (``<run>/saved_model``, ``<run>/model.keras``, ``<run>/summary.json``) is evaluated
through its SavedModel's ``serve`` signature (images ``[N, H, W, C]`` float32 in [0, 1] -> logits),
which needs no Python code to load; its ``.keras`` file is the fallback. ``.keras`` files load with
``safe_mode=True``. Every problem becomes a ``ModelError`` with one line naming the path.
"""

import dataclasses
import json
import os
from typing import Any, Callable, Optional

from tf_fastls0.utils.cli import UsageError

SAVED_MODEL_FILE = "saved_model.pb"
RUN_SAVED_MODEL = "saved_model"
RUN_KERAS_FILE = "model.keras"
RUN_FILES = ("summary.json", "config.json")
SERVING_SIGNATURE = "serve"


class ModelError(UsageError):
    """A model path that cannot be evaluated; the message names the path and the reason."""


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """``model_fn(images) -> logits`` in inference mode, with what a report says about it."""

    model_fn: Callable[[Any], Any]
    variables: list
    image_shape: tuple  # (H, W, C); None where the model leaves a dimension open
    path: str  # the file or folder actually loaded
    format: str  # "saved_model" or "keras"
    run_dir: Optional[str]  # the trainer's run folder the model came from, if any
    name: str  # the Keras model's name, or "" for a SavedModel

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
        return self.name or "unknown"


def load_model(path):
    """Loads the model at ``path`` (see the module docstring); raises ``ModelError``."""
    found, kind, run_dir = locate(path)
    if kind == "saved_model":
        return _load_saved_model(found, run_dir)
    return _load_keras(found, run_dir)


def locate(path):
    """``(path to load, "saved_model" | "keras", run folder or None)`` for a user's model path."""
    path = os.path.normpath(os.path.abspath(os.path.expanduser(path)))
    if not os.path.exists(path):
        raise ModelError(f"--model {path}: no such file or folder")
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, SAVED_MODEL_FILE)):
            return path, "saved_model", _run_dir_of(os.path.dirname(path))
        if os.path.isfile(os.path.join(path, RUN_SAVED_MODEL, SAVED_MODEL_FILE)):
            return os.path.join(path, RUN_SAVED_MODEL), "saved_model", path
        if os.path.isfile(os.path.join(path, RUN_KERAS_FILE)):
            return os.path.join(path, RUN_KERAS_FILE), "keras", path
        raise ModelError(f"not a tf_fastls0 model: folder {path} holds no {SAVED_MODEL_FILE}, "
                         f"{RUN_SAVED_MODEL}/ or {RUN_KERAS_FILE}")
    if path.endswith(".keras"):
        return path, "keras", _run_dir_of(os.path.dirname(path))
    raise ModelError(f"not a tf_fastls0 model: {path} is neither a .keras file nor a SavedModel "
                     "or run folder")


def read_run_files(run_dir):
    """``{"summary": ..., "config": ...}`` from a run folder's JSON files (missing keys absent)."""
    if not run_dir:
        return {}
    found = {}
    for name in RUN_FILES:
        try:
            with open(os.path.join(run_dir, name)) as handle:
                found[name.removesuffix(".json")] = json.load(handle)
        except (OSError, ValueError):
            continue
    if "config" not in found and "summary" in found:
        found["config"] = found["summary"].get("config")
    return found


def _run_dir_of(folder):
    return folder if any(os.path.isfile(os.path.join(folder, f)) for f in RUN_FILES) else None


def _load_saved_model(path, run_dir):
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(path)
    except Exception as error:  # noqa: BLE001  (any loader failure is one clear line)
        raise ModelError(f"cannot load the SavedModel at {path}: {_first_line(error)}") from None
    serve = getattr(loaded, SERVING_SIGNATURE, None)
    signature = getattr(serve, "input_signature", None)
    if serve is None or not signature or len(signature) != 1 or len(signature[0].shape) != 4:
        raise ModelError(f"not a tf_fastls0 model: the SavedModel at {path} has no "
                         f"'{SERVING_SIGNATURE}' function taking one [N, H, W, C] image batch")
    return LoadedModel(model_fn=serve, variables=list(loaded.variables),
                       image_shape=tuple(signature[0].shape[1:]), path=path,
                       format="saved_model", run_dir=run_dir, name="")


def _load_keras(path, run_dir):
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

    def model_fn(images):
        return network(images, training=False)

    return LoadedModel(model_fn=model_fn, variables=list(network.weights),
                       image_shape=tuple(shape[1:]), path=path, format="keras",
                       run_dir=run_dir, name=network.name)


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
