"""Finds and loads a classifier the trainer exported, for the analyses (SPEC section 8).

A model path may be a run folder (holding ``model.keras`` and/or ``saved_model/``), a ``.keras``
file, or a SavedModel folder. In a run folder the ``.keras`` file is preferred: it restores the
Keras model with its trainable weights by name. A SavedModel serves logits through ``serve`` and
still exposes its trainable variables, so weight-space analyses work on it too.
"""

import dataclasses
import json
import os
from typing import Any, Optional

from tf_fastls0.training.export import KERAS_FILE, SAVED_MODEL_DIR

RUN_CONFIG_FILE = "config.json"


class ModelLoadError(ValueError):
    """A model path that does not hold a usable model; the message names the path."""


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """Where a model is: the file or folder to load, its format, and its run folder if any."""
    path: str
    kind: str  # "keras" or "saved_model"
    run_dir: Optional[str]


@dataclasses.dataclass
class LoadedModel:
    """A model to analyse: ``network(images, training=False) -> logits`` with
    ``trainable_variables``, its source and its label in plots and files."""
    label: str
    source: ModelSource
    network: Any

    def model_fn(self, images):
        return self.network(images, training=False)

    @property
    def run_config(self):
        return read_run_config(self.source.run_dir)


class ServedNetwork:
    """A loaded SavedModel seen as a network: ``serve`` always runs in inference mode."""

    def __init__(self, loaded):
        self._loaded = loaded  # owns every variable ``serve`` reads (BatchNorm statistics too)
        self._serve = loaded.serve
        self.trainable_variables = list(loaded.trainable_variables)
        self.input_shape = tuple(self._serve.input_signature[0].shape)

    def __call__(self, images, training=False):
        del training  # the exported function is the inference-mode forward pass
        return self._serve(images)


def _is_saved_model(path):
    return os.path.isfile(os.path.join(path, "saved_model.pb"))


def find_model(path):
    """Resolves a user's model path into a ``ModelSource``; raises ``ModelLoadError`` if none."""
    path = os.path.normpath(os.path.expanduser(path))
    if os.path.isfile(path) and path.endswith(".keras"):
        return ModelSource(path, "keras", _run_dir_of(os.path.dirname(path)))
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, KERAS_FILE)):
            return ModelSource(os.path.join(path, KERAS_FILE), "keras", path)
        if _is_saved_model(os.path.join(path, SAVED_MODEL_DIR)):
            return ModelSource(os.path.join(path, SAVED_MODEL_DIR), "saved_model", path)
        if _is_saved_model(path):
            return ModelSource(path, "saved_model", _run_dir_of(os.path.dirname(path)))
    raise ModelLoadError(
        f"no model at {path!r}: expected a run folder holding {KERAS_FILE} or {SAVED_MODEL_DIR}/, "
        "a .keras file, or a SavedModel folder")


def _run_dir_of(folder):
    """The run folder a model file sits in, recognised by its config.json or logs/."""
    if os.path.isfile(os.path.join(folder, RUN_CONFIG_FILE)) or os.path.isdir(
            os.path.join(folder, "logs")):
        return folder
    return None


def default_label(source):
    """The run folder's name, else the model file's name without its suffix."""
    if source.run_dir:
        return os.path.basename(os.path.abspath(source.run_dir))
    return os.path.splitext(os.path.basename(source.path))[0]


def load_model(source, label=None):
    """Loads a ``ModelSource`` (``.keras`` with ``safe_mode=True``, or a SavedModel)."""
    import keras
    import tensorflow as tf

    import tf_fastls0.models  # noqa: F401  (registers the project's serialisable layers)

    try:
        if source.kind == "keras":
            network = keras.saving.load_model(source.path, safe_mode=True)
        else:
            network = ServedNetwork(tf.saved_model.load(source.path))
    except Exception as error:  # noqa: BLE001  (any loader failure becomes one clear line)
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"cannot load the model at {source.path!r}: {first_line}") from error
    return LoadedModel(label or default_label(source), source, network)


def read_run_config(run_dir):
    """The run's ``config.json`` as a dict, or None where there is none."""
    if not run_dir:
        return None
    path = os.path.join(run_dir, RUN_CONFIG_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        return json.load(handle)
