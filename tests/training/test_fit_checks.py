"""What ``SparseAdversarialModel.fit`` refuses before a step it would take wrongly: numpy arrays
checked whole before the first step, on every ``fit`` (the second too), with the check every entry
point shares (``utils/inputs.py``); a later ``tf.data`` batch with a bad label or pixels stopped
before its update; an unbatched data set, sample and class weights, and a loss or metrics given to
``compile``, each in one line."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_fastls0
from tf_fastls0.utils.cli import UsageError

CLASSES, COUNT, BATCH = 3, 12, 4


def _model(method="fast_ls_l0"):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    network = keras.Model(inputs, keras.layers.Dense(CLASSES)(hidden))
    return tf_fastls0.SparseAdversarialModel(network, method, train_eps=2, attack_iterations=2,
                                             num_examples=COUNT)


def _compiled(method="fast_ls_l0", **options):
    model = _model(method)
    model.compile(optimizer=keras.optimizers.SGD(0.1), **options)
    return model


def _data():
    rng = np.random.default_rng(0)
    return (rng.random((COUNT, 6, 6, 3), dtype=np.float32),
            rng.integers(0, CLASSES, COUNT).astype(np.int64))


def _batches(images, labels):
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(BATCH)


def _label_in_last_batch(images, labels, value):
    labels = labels.copy()
    labels[-1] = value
    return images, labels


def _bytes_in_last_batch(images, labels):
    images = images.copy()
    images[-BATCH:] *= 255.0
    return images, labels


def _nan_in_last_batch(images, labels):
    images = images.copy()
    images[-1, 0, 0, 0] = np.nan
    return images, labels


def _last_image_times_255(images, labels):
    images = images.copy()
    images[-1] *= 255.0
    return images, labels



@pytest.mark.parametrize("method", ["fast_ls_l0", "sparse_at"])
@pytest.mark.parametrize("spoil, message", [
    (lambda x, y: _label_in_last_batch(x, y, CLASSES),
     r"a batch has label 3; labels must be class numbers in \[0, 3\)"),
    (lambda x, y: _label_in_last_batch(x, y, -1), r"a batch has label -1;"),
    (_bytes_in_last_batch, r"a batch's pixels range over \[\d.*, 2\d\d.*\].*scale them by 1/255"),
    (_nan_in_last_batch, r"a batch's images hold NaN or infinite values"),
])
def test_a_bad_later_batch_stops_before_its_update(method, spoil, message):
    model = _compiled(method)
    with pytest.raises(UsageError, match=f"^fit: {message}.*training stopped before its step$"):
        model.fit(_batches(*spoil(*_data())), epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == COUNT // BATCH - 1

    # the good batches' updates only: the weights of a fit on them alone
    images, labels = _data()
    good = _compiled(method)
    good.fit(_batches(images[:-BATCH], labels[:-BATCH]), epochs=1, verbose=0)
    for now, then in zip(model.network.get_weights(), good.network.get_weights()):
        np.testing.assert_allclose(now, then, rtol=1e-5, atol=1e-6)


def test_a_bad_later_batch_stops_before_its_update_in_an_xla_step():
    # Keras compiles the step with XLA by default on a GPU, where an assert inside it does nothing
    model = _compiled("sparse_at", jit_compile=True)
    with pytest.raises(UsageError, match=r"^fit: a batch has label 3;"):
        model.fit(_batches(*_label_in_last_batch(*_data(), CLASSES)), epochs=1, verbose=0)
    assert model.jit_compile and int(model.optimizer.iterations.numpy()) == COUNT // BATCH - 1


def test_labels_with_a_trailing_axis_in_batches_train_as_class_numbers():
    images, labels = _data()
    flat, column = _compiled(), _compiled()
    flat.fit(_batches(images, labels), epochs=1, verbose=0)
    column.fit(_batches(images, labels[:, None]), epochs=1, verbose=0)
    for a, b in zip(flat.network.get_weights(), column.network.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_an_unbatched_data_set_is_refused_saying_to_batch_it():
    unbatched = tf.data.Dataset.from_tensor_slices(_data())
    model = _compiled()
    with pytest.raises(UsageError, match=r"^fit: .*single examples \(images \[6, 6, 3\].*call "
                                         r"\.batch\(batch_size\)"):
        model.fit(unbatched, epochs=1, verbose=0)
    with pytest.raises(UsageError, match=r"call \.batch\(batch_size\)"):
        model.fit(tf_fastls0.with_example_index(unbatched), epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 0


def test_sample_and_class_weights_are_refused():
    images, labels = _data()
    model = _compiled()
    with pytest.raises(UsageError, match=r"^fit: sample_weight= not supported: the adversarial "
                                         "objectives weigh every example"):
        model.fit(images, labels, sample_weight=np.ones(COUNT), batch_size=BATCH, verbose=0)
    with pytest.raises(UsageError, match=r"^fit: class_weight= not supported"):
        model.fit(images, labels, class_weight={0: 2.0}, batch_size=BATCH, verbose=0)
    weighted = tf.data.Dataset.from_tensor_slices(
        (images, labels, np.ones(COUNT, np.float32))).batch(BATCH)
    with pytest.raises(UsageError, match=r"third part is float32; it is read as the example "
                                         "index.*sample weights are not supported"):
        model.fit(weighted, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 0


@pytest.mark.parametrize("ignored", [
    {"loss": "sparse_categorical_crossentropy"},
    {"metrics": ["accuracy"]},
    {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
     "weighted_metrics": ["accuracy"]},
])
def test_compile_refuses_a_loss_or_metrics_it_would_ignore(ignored):
    model = _model()
    with pytest.raises(UsageError, match=rf"^compile: {', '.join(f'{k}=' for k in ignored)} would "
                                         "be ignored: the method's objective is the loss"):
        model.compile(optimizer=keras.optimizers.SGD(0.1), **ignored)


def test_compile_with_an_optimizer_and_keras_options_trains():
    images, labels = _data()
    model = _model()
    model.compile(keras.optimizers.SGD(0.1), steps_per_execution=1, jit_compile=False)
    history = model.fit(images, labels, batch_size=BATCH, epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == COUNT // BATCH
    assert {"loss", "accuracy"} <= set(history.history)


# numpy arrays, checked whole before the first step
@pytest.mark.parametrize("method", ["fast_ls_l0", "sparse_at"])
@pytest.mark.parametrize("spoil, message", [
    (lambda x, y: _label_in_last_batch(x, y, CLASSES),
     rf"class numbers in \[0, 3\).*got 3 \(row {COUNT - 1}\)"),
    (_last_image_times_255, r"range over \[0.*, 2\d\d.*\].*scale them by 1/255"),
    (lambda x, y: (x, np.eye(CLASSES)[y]), "one-hot.*pass class numbers"),
    (lambda x, y: (x[..., 0], y), "add a channel axis"),
])
def test_a_bad_value_in_the_last_batch_is_refused_before_the_first_step(method, spoil, message):
    model = _compiled(method)
    with pytest.raises(UsageError, match=f"^fit: .*{message}"):
        model.fit(*spoil(*_data()), batch_size=BATCH, epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 0


def test_a_second_fit_checks_its_arrays_again():
    model = _compiled()
    images, labels = _data()
    model.fit(images, labels, batch_size=BATCH, epochs=1, verbose=0)
    steps = int(model.optimizer.iterations.numpy())
    assert steps == COUNT // BATCH
    weights = model.network.get_weights()
    with pytest.raises(UsageError, match=r"range over \[0.*, 2\d\d.*\]"):
        model.fit(images * 255.0, labels, batch_size=BATCH, epochs=1, verbose=0)
    with pytest.raises(UsageError, match="got 3"):
        model.fit(*_label_in_last_batch(images, labels, CLASSES), batch_size=BATCH,
                  epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == steps
    for now, then in zip(model.network.get_weights(), weights):
        np.testing.assert_array_equal(now, then)


def test_labels_with_a_trailing_axis_in_arrays_train_as_class_numbers():
    images, labels = _data()
    flat, column = _compiled(), _compiled()
    flat.fit(images, labels, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    column.fit(images, labels[:, None], batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(flat.network.get_weights(), column.network.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
