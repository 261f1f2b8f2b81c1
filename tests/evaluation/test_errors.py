"""Inputs that cannot be evaluated stop with one clear ``UsageError`` before any attack runs
(the command line turns it into one ``error:`` line and exit status 2)."""

import pytest

from tf_fastls0.evaluation import ModelError, evaluate_model, load_model
from tf_fastls0.utils.cli import UsageError

VALID = {"eps": 10, "iters": 2, "rs_queries": 2, "n_examples": 4, "batch_size": 4,
         "progress": False}


@pytest.mark.parametrize("name, message", [
    ("nothing", "no such file or folder"),
    ("weights.txt", "not a tf_fastls0 model: .* neither a .keras file"),
    ("empty_folder", "not a tf_fastls0 model: folder .* holds no saved_model.pb"),
    ("broken.keras", "cannot load the Keras model"),
    ("saved_model_without_serve", "not a tf_fastls0 model: the SavedModel"),
])
def test_paths_that_hold_no_model_are_refused(name, message, tmp_path):
    import tensorflow as tf

    (tmp_path / "weights.txt").write_text("hello")
    (tmp_path / "empty_folder").mkdir()
    (tmp_path / "broken.keras").write_bytes(b"not a zip archive")
    tf.saved_model.save(tf.Module(), str(tmp_path / "saved_model_without_serve"))
    with pytest.raises(ModelError, match=message):
        load_model(str(tmp_path / name))


@pytest.mark.parametrize("overrides, message", [
    ({"eps": 1025}, "--eps=1025 is more than the 1024 pixels of a 32x32 image"),
    ({"iters": 0}, "--iters=0 must be a positive integer"),
    ({"rs_queries": -5}, "--rs_queries=-5 must be a positive integer"),
    ({"n_examples": 0}, "--n_examples=0 must be a positive integer"),
    ({"eps": 0}, "--eps=0 must be a positive integer"),
    ({"attacks": "saa,corner_search"}, "unknown attacks \\['corner_search'\\]"),
    ({"shard_index": 2, "num_shards": 2}, "--shard_index=2 must be in 0 .. --num_shards-1"),
    ({"num_shards": 3}, "--num_shards=3 is more than the 1 batches"),
])
def test_bad_settings_are_refused(overrides, message, tiny_run, splits, tmp_path):
    with pytest.raises(UsageError, match=message):
        evaluate_model(str(tiny_run), splits, output_dir=str(tmp_path),
                       **{**VALID, **overrides})
    assert not (tmp_path / "report.json").exists()


def test_a_model_for_other_images_is_refused(tiny_run, tmp_path):
    from tf_fastls0.data import DataSplits, ImageSet
    import numpy as np

    small = ImageSet(np.zeros([4, 8, 8, 3], np.uint8), np.zeros([4], np.int32), ("a",))
    with pytest.raises(UsageError, match="takes 32x32x3 images but tiny has 8x8x3"):
        evaluate_model(str(tiny_run), DataSplits("tiny", small, small),
                       output_dir=str(tmp_path), **VALID)
