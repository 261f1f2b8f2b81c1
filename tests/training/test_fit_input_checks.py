"""``SparseAdversarialModel.fit`` checks all of its numpy arrays before the first step, on every
``fit`` (the second too), with the check every entry point shares (``utils/inputs.py``)."""

import keras
import numpy as np
import pytest

import tf_fastls0
from tf_fastls0.utils.cli import UsageError

CLASSES, COUNT, BATCH = 3, 12, 4


def _model(method="fast_ls_l0"):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    network = keras.Model(inputs, keras.layers.Dense(CLASSES)(hidden))
    model = tf_fastls0.SparseAdversarialModel(network, method, train_eps=2, attack_steps=2)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    return model


def _data():
    rng = np.random.default_rng(0)
    return (rng.random((COUNT, 6, 6, 3), dtype=np.float32),
            rng.integers(0, CLASSES, COUNT).astype(np.int64))


def _last_label_out_of_range(images, labels):
    labels = labels.copy()
    labels[-1] = CLASSES
    return images, labels


def _last_image_out_of_range(images, labels):
    images = images.copy()
    images[-1] *= 255.0
    return images, labels


@pytest.mark.parametrize("method", ["fast_ls_l0", "sparse_at"])
@pytest.mark.parametrize("spoil, message", [
    (_last_label_out_of_range, rf"class numbers in \[0, 3\).*got 3 \(row {COUNT - 1}\)"),
    (_last_image_out_of_range, r"range over \[0.*, 2\d\d.*\].*scale them by 1/255"),
    (lambda x, y: (x, np.eye(CLASSES)[y]), "one-hot.*pass class numbers"),
    (lambda x, y: (x[..., 0], y), "add a channel axis"),
])
def test_a_bad_value_in_the_last_batch_is_refused_before_the_first_step(method, spoil, message):
    model = _model(method)
    with pytest.raises(UsageError, match=f"^fit: .*{message}"):
        model.fit(*spoil(*_data()), batch_size=BATCH, epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 0


def test_a_second_fit_checks_its_arrays_again():
    model = _model()
    images, labels = _data()
    model.fit(images, labels, batch_size=BATCH, epochs=1, verbose=0)
    steps = int(model.optimizer.iterations.numpy())
    assert steps == COUNT // BATCH
    weights = model.network.get_weights()
    with pytest.raises(UsageError, match=r"range over \[0.*, 2\d\d.*\]"):
        model.fit(images * 255.0, labels, batch_size=BATCH, epochs=1, verbose=0)
    with pytest.raises(UsageError, match="got 3"):
        model.fit(*_last_label_out_of_range(images, labels), batch_size=BATCH, epochs=1,
                  verbose=0)
    assert int(model.optimizer.iterations.numpy()) == steps
    for now, then in zip(model.network.get_weights(), weights):
        np.testing.assert_array_equal(now, then)


def test_labels_with_a_trailing_axis_train_as_class_numbers():
    images, labels = _data()
    flat, column = _model(), _model()
    flat.fit(images, labels, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    column.fit(images, labels[:, None], batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(flat.network.get_weights(), column.network.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
