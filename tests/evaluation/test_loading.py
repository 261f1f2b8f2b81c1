"""Model paths: run folders, SavedModels and .keras files; the weights hash; the Keras path."""

import shutil

import keras
import numpy as np
import pytest

from tf_fastls0.attacks import CLEAN_MISTAKE
from tf_fastls0.evaluation import EvalConfig, evaluate_model, load_model
from tf_fastls0.evaluation.fingerprint import weights_sha256
from tf_fastls0.models.loading import ModelSource, locate


def test_a_run_folder_resolves_to_its_saved_model(tiny_run):
    assert locate(str(tiny_run)) == ModelSource(str(tiny_run / "saved_model"), "saved_model",
                                                   str(tiny_run))
    assert locate(str(tiny_run / "saved_model")).run_dir == str(tiny_run)
    assert locate(str(tiny_run / "model.keras")) == ModelSource(
        str(tiny_run / "model.keras"), "keras", str(tiny_run))


def test_both_formats_of_a_run_hash_alike_and_other_weights_do_not(tiny_run):
    served, stored = load_model(str(tiny_run)), load_model(str(tiny_run / "model.keras"))
    assert weights_sha256(served.variables) == weights_sha256(stored.variables)
    assert weights_sha256(stored.variables[::-1]) == weights_sha256(stored.variables)
    variable = stored.variables[0]
    variable.assign(variable.numpy() + 1e-3)
    assert weights_sha256(stored.variables) != weights_sha256(served.variables)


def test_a_keras_file_outside_a_run_is_evaluated(tiny_run, splits, tmp_path):
    copied = tmp_path / "copy.keras"
    shutil.copy(tiny_run / "model.keras", copied)
    loaded = load_model(str(copied))
    assert loaded.run_dir is None and loaded.architecture == "small_cnn"
    report = evaluate_model(EvalConfig(model=str(copied), output_dir=str(tmp_path / "out"),
                                       eps=10, attacks=("spgd_proj",), iters=3, rs_queries=1,
                                       n_examples=8, batch_size=8, progress=False), splits)
    assert report["model"]["format"] == "keras" and report["architecture"] == "small_cnn"
    network = keras.saving.load_model(copied, safe_mode=True)
    chosen = splits.test.subset(8, seed=0)
    correct = network(chosen.images / 255.0, training=False).numpy().argmax(-1) == chosen.labels
    codes = np.array(report["images"]["broken_by"]["spgd_proj"])
    np.testing.assert_array_equal(codes != CLEAN_MISTAKE, correct)
    assert report["clean_acc"] == pytest.approx(100 * np.mean(correct))
