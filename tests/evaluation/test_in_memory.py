"""``evaluate_model`` on an in-memory Keras model, a plain callable or a model path, on numpy
arrays: the same report."""

import keras
import numpy as np
import pytest

import tf_fastls0
from tf_fastls0.data import DataError

SETTINGS = dict(eps=2, iterations=3, queries=3, batch_size=8, progress=False)


def classifier():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    return keras.Model(inputs, keras.layers.Dense(3)(hidden))


def test_a_model_in_memory_a_callable_and_its_file_get_the_same_report(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = rng.random((8, 8, 8, 3), dtype=np.float32), rng.integers(0, 3, 8)
    network = classifier()
    network.save(tmp_path / "net.keras")
    reports = [tf_fastls0.evaluate_model(model=model, images=images, labels=labels,
                                         output_dir=str(tmp_path / name), **SETTINGS)
               for name, model in [("memory", network),
                                   ("callable", lambda x: network(x, training=False)),
                                   ("path", str(tmp_path / "net.keras"))]]
    for report in reports:
        assert report["complete"] and report["dataset"] == "arrays"
        assert report["n_examples"] == 8
        assert 0 <= report["robust_acc"] <= report["clean_acc"]
    assert len({(r["clean_acc"], r["robust_acc"]) for r in reports}) == 1
    assert set(reports[0]) == set(reports[2])  # the same report's fields
    assert (tmp_path / "memory" / "report.json").is_file()
    # uint8 images are the same images
    as_bytes = np.round(images * 255).astype(np.uint8)
    again = tf_fastls0.evaluate_model(model=network, images=as_bytes, labels=labels, **SETTINGS)
    assert again["n_examples"] == 8 and again["complete"]


@pytest.mark.parametrize("images, labels, message", [
    (np.full((4, 8, 8, 3), 2.0, np.float32), np.zeros(4), r"range over \[2, 2\]"),
    (np.zeros((4, 8, 8, 3), np.float32), None, "without labels"),
    (np.zeros((4, 8, 8, 3), np.float32), np.full(4, 3), r"class numbers in \[0, 3\)"),
])
def test_bad_arrays_are_refused_with_one_line(images, labels, message):
    with pytest.raises(DataError, match=message):
        tf_fastls0.evaluate_model(model=classifier(), images=images, labels=labels, **SETTINGS)
