"""``SparseAdversarialModel``: a classifier that is not in ``MODELS`` trained with every method
through Keras' own ``fit``, the bad input it refuses before any step, one replica against two, and
the same weights as the command for the same data and seed."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_fastls0
from tf_fastls0 import data as data_lib
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.methods import METHODS
from tf_fastls0.training.optimizer import optimizer_named
from tf_fastls0.training.run import train_and_evaluate
from tf_fastls0.training.method_settings import config_for
from tf_fastls0.utils.cli import UsageError

HERE = pathlib.Path(__file__).resolve().parent


def tiny_classifier(size=8, classes=3, last_activation=None):
    """A user's own functional model: not a builder of ``MODELS``."""
    inputs = keras.Input((size, size, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    hidden = keras.layers.BatchNormalization()(hidden)
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    return keras.Model(inputs, keras.layers.Dense(classes, activation=last_activation)(hidden))


def tiny_data(count=8, size=8, classes=3):
    rng = np.random.default_rng(0)
    return rng.random((count, size, size, 3), dtype=np.float32), rng.integers(0, classes, count)


def settings_for(method):
    """The settings a test gives each method: a budget for 8x8 images, soft labels moving at once
    where the method has them."""
    entry = METHODS[method]
    settings = {"train_eps": 2} if entry.adversarial else {}
    if entry.self_adaptive:
        settings["soft_label_start_epoch"] = 0
    return settings


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_trains_a_users_model_two_steps_in_fit(method):
    images, labels = tiny_data()
    classifier = tiny_classifier()
    before = [w.copy() for w in classifier.get_weights()]
    model = tf_fastls0.SparseAdversarialModel(classifier, method, **settings_for(method))
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    history = model.fit(images, labels, batch_size=4, epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 2
    assert np.isfinite(history.history["loss"][0])
    assert any(np.any(a != b) for a, b in zip(before, classifier.get_weights()))
    if METHODS[method].adversarial:
        assert "adversarial_accuracy" in history.history
    if model.buffer is not None:  # every row seen is set, and no row was left unset
        rows = model.buffer.rows.numpy()
        np.testing.assert_allclose(rows.sum(axis=1), 1.0, atol=1e-5)


def test_a_tf_data_stream_without_index_trains_and_soft_labels_start_as_one_hot():
    images, labels = tiny_data()
    stream = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    model = tf_fastls0.SparseAdversarialModel(tiny_classifier(), "fast_ls_l0", train_eps=2,
                                              soft_label_start_epoch=1)  # rows stay one-hot in epoch 0
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    rows = []
    model.fit(stream, epochs=2, verbose=0, callbacks=[keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: rows.append(model.buffer.rows.numpy()))])
    assert model.num_examples == 8  # read from the data set: 2 batches of 4
    np.testing.assert_array_equal(rows[0], np.eye(3)[labels])
    assert np.all(np.abs(rows[1] - rows[0]).sum(axis=1) > 0)  # every example's row moved


def test_evaluate_and_save_give_the_classifier_unchanged(tmp_path):
    images, labels = tiny_data()
    classifier = tiny_classifier()
    model = tf_fastls0.SparseAdversarialModel(classifier, "sparse_at", train_eps=2)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(images, labels, batch_size=4, verbose=0)
    assert set(model.evaluate(images, labels, verbose=0, return_dict=True)) == {"loss",
                                                                                  "accuracy"}
    model.save(tmp_path / "classifier.keras")
    reloaded = keras.saving.load_model(tmp_path / "classifier.keras")
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in classifier.layers]
    np.testing.assert_allclose(reloaded(images), classifier(images), atol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: tf_fastls0.SparseAdversarialModel(tiny_classifier(last_activation="softmax")),
     "is a softmax"),
    (lambda: tf_fastls0.SparseAdversarialModel(tiny_classifier(), "sparse_at", trades_beta=3.0),
     "trades_beta= does not apply to method 'sparse_at'"),
    (lambda: tf_fastls0.SparseAdversarialModel(tiny_classifier(), "sparse_at",
                                               soft_label_momentum=0.5),
     "no self-adaptive soft labels"),
    (lambda: tf_fastls0.SparseAdversarialModel(tiny_classifier(), "fast_ls_l0", epochs=3),
     "setting of the command"),
    (lambda: tf_fastls0.SparseAdversarialModel(tiny_classifier(), "fast_ls_l0", eps=3),
     "unknown setting eps="),
    (lambda: tf_fastls0.SparseAdversarialModel(tiny_classifier(), "no_such_method"),
     "no_such_method: choose one of"),
])
def test_a_bad_model_or_setting_is_refused_when_the_model_is_made(make, message):
    with pytest.raises(UsageError, match=message):
        make()


def _fit(data, **kwargs):
    model = tf_fastls0.SparseAdversarialModel(tiny_classifier(), "fast_ls_l0", train_eps=2,
                                              **kwargs)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(*data, verbose=0)
    return model


@pytest.mark.parametrize("data, kwargs, message", [
    ((tiny_data()[0] * 255, tiny_data()[1]), {},
     r"range over \[0.*, 25.*\]; they must be in \[0, 1\]"),
    ((tiny_data()[0],), {}, "has no labels"),
    ((tf.data.Dataset.from_tensor_slices(tiny_data()[0]).batch(4),), {}, "no labels"),
    ((tiny_data()[0], tiny_data()[1] + 3), {}, r"labels must be class numbers in \[0, 3\)"),
    ((tf.data.Dataset.from_tensor_slices((*tiny_data(), np.arange(8) + 5)).batch(4),),
     {"num_examples": 8}, r"example index beyond num_examples \(8 >= 8\)"),
    ((tf.data.Dataset.from_tensor_slices((*tiny_data(), np.arange(8))).batch(4),), {},
     "pass num_examples="),
])
def test_bad_data_is_refused_before_any_training_step(data, kwargs, message):
    with pytest.raises(UsageError, match=message):
        model = _fit(data, **kwargs)
        assert int(model.optimizer.iterations.numpy()) == 0


def test_an_index_beyond_num_examples_in_a_later_batch_stops_before_its_step():
    indexed = tf.data.Dataset.from_tensor_slices((*tiny_data(), np.arange(8) + 4)).batch(4)
    model = tf_fastls0.SparseAdversarialModel(tiny_classifier(), "fast_ls_l0", train_eps=2,
                                              num_examples=8)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    after_steps = []
    snapshot = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: after_steps
                                              .append(model.network.get_weights()))
    with pytest.raises(UsageError, match="example index beyond num_examples"):
        model.fit(indexed, verbose=0, callbacks=[snapshot])
    assert len(after_steps) == 1  # the first batch's step only; the second was not taken
    for now, then in zip(model.network.get_weights(), after_steps[0]):
        np.testing.assert_array_equal(now, then)


def test_a_classifier_returning_probabilities_is_refused_before_any_step():
    inputs = keras.Input((8, 8, 3))
    logits = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(inputs))
    probabilities = keras.Model(inputs, keras.ops.softmax(logits))  # no Softmax layer to see
    model = tf_fastls0.SparseAdversarialModel(probabilities, "sparse_at", train_eps=2)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    with pytest.raises(UsageError, match="look like probabilities"):
        model.fit(*tiny_data(), verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 0


@pytest.mark.slow
def test_one_and_two_replicas_give_the_same_update_through_the_wrapper():
    repo = HERE.parent.parent
    result = subprocess.run([sys.executable, str(HERE / "wrapper_replicas.py")],
                            capture_output=True, text=True, timeout=900, cwd=repo,
                            env={**os.environ, "PYTHONPATH": str(repo)})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["weight_change"] > 1e-4  # the steps changed the weights
    assert report["weight_difference"] < 1e-4
    assert report["buffer_rows_moved"] > 0 and report["buffer_difference"] < 1e-5


def test_the_wrapper_and_the_command_train_the_same_weights(tmp_path):
    """A user's ``.keras`` architecture: the command (``--model=<file>.keras``) and the wrapper
    on the command's batches, for 2 steps from the file's weights, end with the same weights."""
    architecture = tmp_path / "mine.keras"
    keras.utils.set_random_seed(1)
    tiny_classifier(size=32, classes=10).save(architecture)
    data = data_lib.DataConfig(max_train_examples=16, max_eval_examples=8)
    config = TrainConfig(model=str(architecture), method="fast_ls_l0", epochs=2, batch_size=8,
                         train_eps=4, eval_eps=2, soft_label_start_epoch=0, augment=False,
                         lr_schedule="constant", learning_rate=0.1, val_robust_examples=0,
                         verbose=0, data=data, output_dir=str(tmp_path / "run"),
                         mixed_precision="off")  # the wrapper trains the float32 file as it is
    train_and_evaluate(config)
    by_command = keras.saving.load_model(tmp_path / "run" / "model.keras").get_weights()

    classifier = keras.saving.load_model(architecture)
    model = tf_fastls0.SparseAdversarialModel(classifier, "fast_ls_l0", train_eps=4,
                                              soft_label_start_epoch=0, num_examples=16)
    model.compile(optimizer=optimizer_named("sgd", 0.1, config.momentum, config.weight_decay))
    splits = data_lib.load_data(config.data)
    batches = data_lib.training_dataset(splits.train, 8, 2, config.seed, augment=False)
    model.fit(batches, epochs=2, steps_per_epoch=2, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 4
    for mine, theirs in zip(classifier.get_weights(), by_command):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)
    start = keras.saving.load_model(architecture).get_weights()
    assert any(np.max(np.abs(a - b)) > 1e-4 for a, b in zip(start, by_command))


@pytest.mark.parametrize("settings, message", [
    ({"model": "resnet9000"}, "--model=resnet9000: choose one of .* or a .keras file"),
    ({"model": "small_cnn", "reinitialize": True}, "--reinitialize applies to a .keras --model"),
])
def test_the_commands_model_is_a_registered_name_or_a_keras_file(settings, message):
    with pytest.raises(UsageError, match=message):
        TrainConfig(**settings)


def test_a_missing_keras_file_is_refused_before_the_run_folder_is_made(tmp_path):
    config = TrainConfig(model=str(tmp_path / "missing.keras"), output_dir=str(tmp_path / "run"),
                         epochs=1, data=data_lib.DataConfig(max_train_examples=16,
                                                            max_eval_examples=8))
    with pytest.raises(UsageError, match="missing.keras: no such file"):
        train_and_evaluate(config)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("reinitialize", [False, True])
def test_a_keras_architecture_starts_from_its_weights_or_fresh_ones(reinitialize, tmp_path):
    from tf_fastls0.training.run import build_network

    path = tmp_path / "mine.keras"
    tiny_classifier(size=32, classes=10).save(path)
    config = TrainConfig(model=str(path), reinitialize=reinitialize, seed=3)
    keras.utils.set_random_seed(config.seed)
    network = build_network(config, (32, 32, 3), 10)
    saved = keras.saving.load_model(path)
    assert [type(layer) for layer in network.layers] == [type(layer) for layer in saved.layers]
    same = all(np.array_equal(a, b) for a, b in zip(network.get_weights(), saved.get_weights()))
    assert same != reinitialize
    with pytest.raises(UsageError, match="takes .* images to 10 classes; the data has"):
        build_network(config, (32, 32, 3), 100)


def test_the_old_sat_keywords_set_the_renamed_soft_label_settings():
    config = config_for({"method": "fast_ls_l0", "sat_momentum": 0.5, "sat_start_epoch": 1}, 4)
    assert (config.soft_label_momentum, config.soft_label_start_epoch) == (0.5, 1)


def test_the_python_apis_config_is_made_once_at_the_first_fit(monkeypatch):
    from tf_fastls0.training import sparse_adversarial_model
    made = []
    real = sparse_adversarial_model.config_for
    monkeypatch.setattr(sparse_adversarial_model, "config_for",
                        lambda *args: made.append(args) or real(*args))
    images, labels = tiny_data()
    model = tf_fastls0.SparseAdversarialModel(tiny_classifier(), "fast_ls_l0", train_eps=2)
    assert model.recipe is None and not made  # the keywords are checked, nothing is made yet
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(images, labels, batch_size=4, epochs=2, verbose=0)
    model.fit(images, labels, batch_size=4, epochs=1, verbose=0)
    assert len(made) == 1 and made[0][1] == 2  # the first fit's epochs


def test_a_bad_value_is_refused_when_the_model_is_made():
    with pytest.raises(UsageError, match="train_eps=-1: must be at least 0"):
        tf_fastls0.SparseAdversarialModel(tiny_classifier(), "sparse_at", train_eps=-1)


def test_the_old_trainer_name_is_the_model_and_warns():
    with pytest.warns(DeprecationWarning, match="use tf_fastls0.SparseAdversarialModel"):
        from tf_fastls0.training.trainer import AdversarialTrainer
    assert AdversarialTrainer is tf_fastls0.SparseAdversarialModel
