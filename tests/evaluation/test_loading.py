"""Model paths: run folders, SavedModels and .keras files; the weights hash; the Keras path."""

import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

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
                                       eps=10, attacks=("spgd_proj",), iterations=3, queries=1,
                                       n_examples=8, batch_size=8, progress=False), splits)
    assert report["model"]["format"] == "keras" and report["architecture"] == "small_cnn"
    network = keras.saving.load_model(copied, safe_mode=True)
    chosen = splits.test.subset(8, seed=0)
    correct = network(chosen.images / 255.0, training=False).numpy().argmax(-1) == chosen.labels
    codes = np.array(report["images"]["broken_by"]["spgd_proj"])
    np.testing.assert_array_equal(codes != CLEAN_MISTAKE, correct)
    assert report["clean_acc"] == pytest.approx(100 * np.mean(correct))


class LinearModule(tf.Module):
    """A plain ``tf.Module`` (no Keras) that ends in a softmax: a SavedModel the README accepts
    (a ``serve`` function of one image batch) but whose outputs are probabilities."""

    def __init__(self):
        super().__init__()
        self.kernel = tf.Variable(tf.random.stateless_normal([32 * 32 * 3, 10], [0, 1]) * 0.01)

    @tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32)])
    def __call__(self, images):
        return tf.nn.softmax(tf.reshape(images, [-1, 32 * 32 * 3]) @ self.kernel)


@pytest.mark.parametrize("form", ["function", "signature"])
def test_a_saved_model_of_a_plain_tf_module_is_evaluated_and_checked(form, splits, tmp_path):
    """``serve`` as a ``tf.function`` attribute, or only as the SavedModel's ``serve`` signature
    (keyword input, a dict of one output)."""
    module = LinearModule()
    path = str(tmp_path / "module")
    if form == "function":
        module.serve = module.__call__
        tf.saved_model.save(module, path)
    else:
        tf.saved_model.save(module, path, signatures={"serve": module.__call__})
    loaded = load_model(path)
    assert loaded.format == "saved_model" and len(loaded.variables) == 1
    report = evaluate_model(EvalConfig(model=path, output_dir=str(tmp_path / "out"), eps=4,
                                       attacks=("spgd_proj",), iterations=2, queries=1,
                                       n_examples=8, batch_size=8, progress=False), splits)
    assert report["complete"] and report["model"]["sha256"] == weights_sha256(loaded.variables)
    assert any("look like probabilities" in warning for warning in report["warnings"])
