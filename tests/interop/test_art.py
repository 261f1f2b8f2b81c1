"""The ART adapter: ART's ``generate`` gives what our attacks give when called directly, in the
pixel space before the estimator's preprocessing, within its clip values and the l0 budget; and
estimators it cannot attack are refused in one line."""

import hypothesis
import keras
import numpy as np
import pytest
from art.estimators.classification import SklearnClassifier, TensorFlowV2Classifier
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from tf_fastls0.attacks import threats
from tf_fastls0.attacks.sparse_autoattack import sparse_autoattack
from tf_fastls0.attacks.sparse_pgd import sparse_pgd
from tf_fastls0.attacks.sparse_rs import sparse_rs
from tf_fastls0.interop import art as art_attacks

SHAPE = (8, 8, 3)
CLASSES = 4
MEAN = np.array([0.5, 0.4, 0.3], np.float32)
STD = np.array([0.2, 0.25, 0.3], np.float32)


@pytest.fixture(scope="module")
def network():
    """A fixed random MLP on normalised images, as a Keras model (what ART's estimator calls)."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input(SHAPE), keras.layers.Flatten(),
                             keras.layers.Dense(32, activation="relu"),
                             keras.layers.Dense(CLASSES)])


def _classifier(network, **kwargs):
    settings = {"clip_values": (0.0, 1.0), "preprocessing": (MEAN, STD), **kwargs}
    return TensorFlowV2Classifier(network, nb_classes=CLASSES, input_shape=SHAPE, **settings)


def _pixel_model_fn(network):
    """The network seen from pixel space: what the adapter must attack."""
    return lambda images: network((images - MEAN) / STD, training=False)


def _batch(network, size=6, seed=0):
    images = np.random.default_rng(seed).random((size, *SHAPE), dtype=np.float32)
    labels = np.argmax(_pixel_model_fn(network)(images).numpy(), axis=1).astype(np.int32)
    return images, labels


def _direct(name, model_fn, images, labels, threat=None):
    keys = np.arange(len(images), dtype=np.int32)
    if name == "spgd":
        return sparse_pgd(model_fn, images, labels, eps=3, iterations=8, keys=keys, seed=5,
                          threat=threat, compact=True).adversarial.numpy()
    if name == "rs":
        return sparse_rs(model_fn, images, labels, eps=3, queries=20, keys=keys, seed=5,
                         threat=threat).adversarial.numpy()
    return sparse_autoattack(model_fn, [(images, labels, keys)], eps=3, iterations=8,
                             queries=20, seed=5, threat=threat).adversarial


def _adapter(name, classifier, threat="pixels"):
    common = {"eps": 3, "seed": 5, "threat": threat}
    if name == "spgd":
        return art_attacks.SparsePGD(classifier, iterations=8, **common)
    if name == "rs":
        return art_attacks.SparseRS(classifier, queries=20, **common)
    return art_attacks.SparseAutoAttack(classifier, iterations=8, queries=20, **common)


@pytest.mark.parametrize("name", ["spgd", "rs", "saa"])
def test_generate_equals_the_attack_called_in_pixel_space(network, name):
    images, labels = _batch(network)
    expected = _direct(name, _pixel_model_fn(network), images, labels)
    one_hot = np.eye(CLASSES, dtype=np.float32)[labels]
    got = _adapter(name, _classifier(network)).generate(images, one_hot)
    assert isinstance(got, np.ndarray) and got.shape == images.shape
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert np.any(got != images)  # the attack did change something: the check is not vacuous


def test_a_structured_threat_equals_the_attack_called_directly(network):
    images, labels = _batch(network, seed=1)
    threat = threats.make_threat("columns", SHAPE)
    expected = _direct("spgd", _pixel_model_fn(network), images, labels, threat)
    got = _adapter("spgd", _classifier(network), threat="columns").generate(images, labels)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    changed_columns = np.any(got != images, axis=(1, 3)).sum(axis=1)
    assert changed_columns.max() <= 3


@hypothesis.settings(max_examples=6, deadline=None)
@hypothesis.given(name=st.sampled_from(["spgd", "rs"]), eps=st.integers(0, 5),
                  seed=st.integers(0, 2 ** 16))
def test_generate_stays_in_the_clip_values_and_the_budget(network, name, eps, seed):
    images, labels = _batch(network, size=4, seed=seed)
    attack = _adapter(name, _classifier(network))
    attack.set_params(eps=eps, seed=seed)
    adversarial = attack.generate(images, labels)
    assert adversarial.dtype == np.float32
    assert adversarial.min() >= 0.0 and adversarial.max() <= 1.0
    changed_pixels = np.any(adversarial != images, axis=-1).sum(axis=(1, 2))
    assert changed_pixels.max() <= eps


def test_without_labels_the_estimators_predictions_are_attacked(network):
    images, labels = _batch(network, seed=2)
    attack = _adapter("spgd", _classifier(network))
    np.testing.assert_allclose(attack.generate(images), attack.generate(images, labels),
                               atol=1e-6)


def test_a_channels_first_estimator_is_answered_in_its_layout(network):
    images, labels = _batch(network, seed=3)
    channels_first = keras.Sequential([keras.Input(SHAPE[::-1]), keras.layers.Permute((2, 3, 1)),
                                       network])  # NCHW in, the same network
    classifier = TensorFlowV2Classifier(channels_first, nb_classes=CLASSES,
                                        input_shape=SHAPE[::-1], channels_first=True,
                                        clip_values=(0.0, 1.0),
                                        preprocessing=(MEAN[:, None, None], STD[:, None, None]))
    got = _adapter("spgd", classifier).generate(np.transpose(images, (0, 3, 1, 2)), labels)
    expected = _direct("spgd", _pixel_model_fn(network), images, labels)
    np.testing.assert_allclose(np.transpose(got, (0, 2, 3, 1)), expected, atol=1e-6)


@pytest.mark.parametrize("clip_values", [(0.0, 255.0), None])
def test_clip_values_other_than_zero_one_are_refused(network, clip_values):
    with pytest.raises(ValueError, match=r"clip_values=\(0, 1\)") as refusal:
        art_attacks.SparsePGD(_classifier(network, clip_values=clip_values))
    assert len(str(refusal.value).splitlines()) == 1


def test_another_estimator_is_refused(network):
    images, labels = _batch(network, size=8)
    model = LogisticRegression().fit(images.reshape(len(images), -1), np.arange(8) % 2)
    estimator = SklearnClassifier(model, clip_values=(0.0, 1.0))
    with pytest.raises(TypeError, match="attacks an ART TensorFlowV2Classifier, not a "
                       "ScikitlearnLogisticRegression"):
        art_attacks.SparseRS(estimator)


def test_images_outside_the_clip_values_are_refused(network):
    images, labels = _batch(network)
    with pytest.raises(ValueError, match=r"x range over \[.*, .*\]; they must be in \[0, 1\]"):
        _adapter("rs", _classifier(network)).generate(images * 2.0, labels)
