"""Every entry point checks the arrays it is given (``utils/inputs.py``): the attack functions of
``attacks.ATTACKS``, ``evaluate_model``'s arrays and the ART adapter refuse what would give a
wrong result or a TensorFlow error, with one line saying what to do, and accept what Keras'
losses accept (labels ``[N, 1]``). One-channel images run through every attack."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_fastls0
from tf_fastls0.attacks import ATTACKS, sparse_autoattack, sparse_pgd

SHAPE, CLASSES, BATCH = (4, 4, 3), 3, 4
SETTINGS = {
    "spgd_unproj": {"iterations": 3},
    "spgd_proj": {"iterations": 3},
    "rs": {"queries": 5},
    "saa": {"iterations": 3, "queries": 4},
    "cornersearch": {"queries": 2, "n_max": 6},
    "saif": {"iterations": 3},
    "sigma_zero": {"iterations": 4},
}


def _arrays(mlp, predicted_batch, shape=SHAPE):
    model_fn = mlp(shape, CLASSES, seed=2)
    images, labels = predicted_batch(model_fn, shape, BATCH, seed=2)
    return model_fn, images, labels


def _bad_labels(labels):
    out_of_range = labels.copy()
    out_of_range[1] = 7
    return out_of_range


BAD_INPUTS = {  # name: (images, labels) from the good ones -> the refusal's words
    "uint8 images": (lambda x, y: ((x * 255).astype(np.uint8), y), r"uint8.*scale them by 1/255"),
    "uint8 tensor": (lambda x, y: (tf.constant((x * 255).astype(np.uint8)), y), r"1/255"),
    "0..255 floats": (lambda x, y: (x * 200, y),
                      r"range over \[.*, 1\d\d.*\].*scale them by 1/255"),
    "normalised floats": (lambda x, y: (x - 0.5, y), r"normalise inside the model"),
    "no channel axis": (lambda x, y: (x[..., 0], y), r"\[4, 4, 4\].*add a channel axis"),
    "one-hot labels": (lambda x, y: (x, np.eye(CLASSES)[y]), r"one-hot.*pass class numbers"),
    "label out of range": (lambda x, y: (x, _bad_labels(y)), r"in \[0, 3\).*got 7 \(row 1\)"),
    "fractional labels": (lambda x, y: (x, y + 0.5), r"pass class numbers \(integers\)"),
    "labels for other images": (lambda x, y: (x, y[:2]), r"2 labels for 4 images"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_attack_refuses_bad_arrays_with_one_line(mlp, predicted_batch, name, case):
    model_fn, images, labels = _arrays(mlp, predicted_batch)
    make_bad, message = BAD_INPUTS[case]
    bad_images, bad_labels = make_bad(images, labels)
    function = ATTACKS[name].function or sparse_autoattack  # the refusal names the function
    with pytest.raises(ValueError, match=f"^{function.__name__}: .*{message}") as refusal:
        ATTACKS[name](model_fn, bad_images, bad_labels, eps=2, **SETTINGS[name])
    assert len(str(refusal.value).splitlines()) == 1


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_labels_with_a_trailing_axis_are_the_same_labels(mlp, predicted_batch, name):
    model_fn, images, labels = _arrays(mlp, predicted_batch)
    settings = {**SETTINGS[name], **({"compiled": False} if name == "saa" else {})}
    flat = ATTACKS[name](model_fn, images, labels, eps=2, seed=1, **settings)
    column = ATTACKS[name](model_fn, images, labels[:, None], eps=2, seed=1, **settings)
    np.testing.assert_array_equal(np.asarray(column.adversarial), np.asarray(flat.adversarial))
    np.testing.assert_array_equal(np.asarray(column.is_adversarial),
                                  np.asarray(flat.is_adversarial))


@pytest.fixture(scope="module")
def grey_network():
    """A tiny Keras CNN on one-channel 6x6 images (MNIST-like data)."""
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((6, 6, 1)),
                             keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                             keras.layers.Flatten(), keras.layers.Dense(CLASSES)])


def _grey_batch(network, count=6):
    images = np.random.default_rng(3).random((count, 6, 6, 1), dtype=np.float32)
    return images, np.argmax(network(images).numpy(), axis=1).astype(np.int32)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_one_channel_images_run_through_every_attack(grey_network, assert_sparse_image, name):
    images, labels = _grey_batch(grey_network)
    result = ATTACKS[name](grey_network, images, labels, eps=3, seed=1, **SETTINGS[name])
    assert_sparse_image(np.asarray(result.adversarial), images, 3)


def test_evaluate_model_attacks_one_channel_images_with_column_labels(grey_network):
    images, labels = _grey_batch(grey_network, count=8)
    report = tf_fastls0.evaluate_model(model=grey_network, images=images, labels=labels[:, None],
                                       eps=2, iterations=3, queries=20, batch_size=8,
                                       progress=False)
    assert report["complete"] and report["n_examples"] == 8
    assert report["robust_acc"] <= report["clean_acc"] == 100.0


# The label range needs the model's class count: one probe of one image; nothing else runs.
PROBE = [(1, 6, 6, 1)]


@pytest.mark.parametrize("images, labels, message, calls", [
    (np.zeros((4, 6, 6), np.float32), np.zeros(4), r"\[4, 6, 6\].*add a channel axis", []),
    (np.full((4, 6, 6, 1), 255.0, np.float32), np.zeros(4), r"up to 255.*scale them by 1/255",
     []),
    (np.zeros((4, 6, 6, 1), np.float32), np.eye(CLASSES)[[0, 1, 2, 0]], "pass class numbers",
     []),
    (np.zeros((4, 6, 6, 1), np.float32), np.array([0, 1, 9, 0]), r"got 9 \(row 2\)", PROBE),
])
def test_evaluate_model_refuses_bad_arrays_before_the_model_sees_them(images, labels, message,
                                                                       calls):
    seen = []

    def model_fn(batch):
        seen.append(tuple(batch.shape))
        return tf.zeros([tf.shape(batch)[0], CLASSES])

    with pytest.raises(ValueError, match=f"^evaluate_model: .*{message}"):
        tf_fastls0.evaluate_model(model=model_fn, images=images, labels=labels, eps=2,
                                  iterations=2, queries=2, progress=False)
    assert seen == calls


def test_images_captured_by_a_traced_function_are_checked_as_eager_ones(mlp):
    """An eager tensor that a tf.function captures is still checked (its values are known), and
    a valid one attacks as outside the function."""
    model_fn = mlp((4, 4, 3))
    good = tf.random.stateless_uniform([3, 4, 4, 3], seed=[0, 1])
    labels = tf.argmax(model_fn(good), axis=-1, output_type=tf.int32)

    @tf.function
    def attack(images):
        return sparse_pgd(model_fn, images, labels, eps=2, iterations=2, seed=0).adversarial

    captured = tf.function(lambda: sparse_pgd(model_fn, good, labels, eps=2, iterations=2,
                                              seed=0).adversarial)
    np.testing.assert_array_equal(captured().numpy(), attack(good).numpy())
    bytes_ = good * 255.0
    with pytest.raises(Exception, match="range over"):  # AutoGraph wraps it in a StagingError
        tf.function(lambda: sparse_pgd(model_fn, bytes_, labels, eps=2, iterations=2))()
