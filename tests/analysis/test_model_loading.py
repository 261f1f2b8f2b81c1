"""Model paths: run folders prefer the .keras file, SavedModels serve the same logits, and a bad
path is refused with a message naming it."""

import json

import keras
import numpy as np
import pytest

from tf_fastls0.analysis import model_loading
from tf_fastls0.training.export import export_network


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    keras.utils.set_random_seed(0)
    network = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3),
                                keras.layers.Flatten(), keras.layers.Dense(3)])
    folder = tmp_path_factory.mktemp("my_run")
    export_network(network, str(folder))
    (folder / "config.json").write_text(json.dumps({"method": "tradeoff"}))
    return folder


def test_a_run_folder_resolves_to_its_keras_file(run_dir):
    source = model_loading.find_model(str(run_dir))
    assert source.kind == "keras" and source.path.endswith("model.keras")
    assert source.run_dir == str(run_dir)
    assert model_loading.default_label(source) == run_dir.name
    assert model_loading.find_model(str(run_dir / "model.keras")) == source


def test_the_saved_model_serves_the_keras_logits_and_exposes_weights(run_dir):
    served = model_loading.find_model(str(run_dir / "saved_model"))
    assert served.kind == "saved_model" and served.run_dir == str(run_dir)
    keras_model = model_loading.load_model(model_loading.find_model(str(run_dir)))
    saved_model = model_loading.load_model(served, label="served")
    images = np.random.default_rng(0).uniform(size=(4, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(saved_model.model_fn(images), keras_model.model_fn(images),
                               rtol=1e-5, atol=1e-6)
    assert saved_model.label == "served" and saved_model.network.input_shape[1:] == (8, 8, 3)
    assert (sorted(v.shape.num_elements() for v in saved_model.network.trainable_variables)
            == sorted(v.shape.num_elements() for v in keras_model.network.trainable_variables))
    assert keras_model.run_config == {"method": "tradeoff"}


def test_bad_paths_are_refused_by_name(tmp_path):
    with pytest.raises(model_loading.ModelLoadError, match="no model at .*missing"):
        model_loading.find_model(str(tmp_path / "missing"))
    broken = tmp_path / "broken.keras"
    broken.write_text("not a zip file")
    with pytest.raises(model_loading.ModelLoadError, match="cannot load the model at .*broken"):
        model_loading.load_model(model_loading.find_model(str(broken)))
