"""Model paths: a run folder gives the format the caller prefers, the SavedModel serves the same
logits as the .keras file, and a bad path is refused with a message naming it."""

import json
import os

import keras
import numpy as np
import pytest

from tf_fastls0.models.loading import ModelError, load_model, locate
from tf_fastls0.training.export import export_network


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    keras.utils.set_random_seed(0)
    network = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3),
                                keras.layers.Flatten(), keras.layers.Dense(3)])
    folder = tmp_path_factory.mktemp("my_run")
    export_network(network, str(folder))
    (folder / "config.json").write_text(json.dumps({"method": "tradeoff", "model": "small_cnn",
                                                    "width": 0.5}))
    return folder


def test_a_run_folder_gives_the_preferred_format(run_dir):
    keras_source = locate(str(run_dir), prefer="keras")
    assert keras_source.format == "keras" and keras_source.path.endswith("model.keras")
    assert keras_source.run_dir == str(run_dir) and keras_source.default_label == run_dir.name
    assert locate(str(run_dir / "model.keras")) == keras_source
    served = locate(str(run_dir))
    assert served.format == "saved_model" and served.path == str(run_dir / "saved_model")
    assert locate(str(run_dir / "saved_model")) == served


def test_a_run_folder_falls_back_to_the_format_it_has(tmp_path):
    network = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(2)])
    export_network(network, str(tmp_path))
    (tmp_path / "model.keras").unlink()
    assert locate(str(tmp_path), prefer="keras").format == "saved_model"


def test_the_saved_model_serves_the_keras_logits_and_exposes_weights(run_dir):
    keras_model = load_model(str(run_dir), prefer="keras")
    saved_model = load_model(str(run_dir), label="served")
    images = np.random.default_rng(0).uniform(size=(4, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(saved_model.model_fn(images), keras_model.model_fn(images),
                               rtol=1e-5, atol=1e-6)
    assert saved_model.label == "served" and keras_model.label == run_dir.name
    assert saved_model.image_shape == keras_model.image_shape == (8, 8, 3)
    assert (sorted(v.shape.num_elements() for v in saved_model.network.trainable_variables)
            == sorted(v.shape.num_elements() for v in keras_model.network.trainable_variables))
    assert keras_model.run_config["method"] == "tradeoff"
    assert saved_model.architecture == "small_cnn (width 0.5)"


def test_bad_paths_are_refused_by_name(tmp_path):
    with pytest.raises(ModelError, match="--model .*missing: no such file or folder"):
        locate(str(tmp_path / "missing"))
    broken = tmp_path / "broken.keras"
    broken.write_text("not a zip file")
    with pytest.raises(ModelError, match="cannot load the Keras model at .*broken"):
        load_model(str(broken))


def test_a_training_checkpoint_loads_as_the_network_it_saved(tiny_run, tmp_path):
    import tensorflow as tf

    newest = tf.train.latest_checkpoint(str(tiny_run / "checkpoints"))
    from_checkpoint = load_model(newest)
    exported = load_model(str(tiny_run), prefer="keras")
    assert from_checkpoint.format == "checkpoint" and from_checkpoint.run_dir == str(tiny_run)
    assert from_checkpoint.label == f"{tiny_run.name}@{os.path.basename(newest)}"
    assert from_checkpoint.architecture == exported.architecture
    images = np.random.default_rng(0).uniform(size=(4, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(from_checkpoint.model_fn(images), exported.model_fn(images),
                               rtol=1e-5, atol=1e-5)

    (tmp_path / "ckpt-1.index").write_bytes((newest + ".index").encode())
    with pytest.raises(ModelError, match="ckpt-1: it is not in a run folder"):
        load_model(str(tmp_path / "ckpt-1"))
