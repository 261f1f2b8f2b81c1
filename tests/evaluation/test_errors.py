"""Inputs that cannot be evaluated stop with one clear ``UsageError`` before any attack runs
(the command line turns it into one ``error:`` line and exit status 2)."""

import re

import pytest

from tf_fastls0.evaluation import EvalConfig, ModelError, evaluate_model, load_model
from tf_fastls0.utils.cli import UsageError

VALID = {"eps": 10, "iterations": 2, "queries": 2, "n_examples": 4, "batch_size": 4,
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
    ({"iterations": 0}, "--iterations=0: must be at least 1"),
    ({"queries": -5}, "--queries=-5: must be at least 1"),
    ({"n_examples": 0}, "--n_examples=0: must be at least 1"),
    ({"eps": 0}, "--eps=0: must be at least 1"),
    ({"attacks": "saa,deepfool"}, "--attacks=saa,deepfool: choose one of saa"),
    ({"attacks": ","}, "--attacks names no attack"),
    ({"shard_index": 2, "num_shards": 2}, "--shard_index=2 must be smaller than --num_shards=2"),
    ({"num_shards": 3}, "--num_shards=3 is more than the 1 batches"),
])
def test_bad_settings_are_refused(overrides, message, tiny_run, splits, tmp_path):
    with pytest.raises(UsageError, match=message):
        evaluate_model(EvalConfig(model=str(tiny_run), output_dir=str(tmp_path),
                                  **{**VALID, **overrides}), splits)
    assert not (tmp_path / "report.json").exists()


def test_a_model_for_other_images_is_refused(tiny_run, tmp_path):
    from tf_fastls0.data import DataSplits, ImageSet
    import numpy as np

    small = ImageSet(np.zeros([4, 8, 8, 3], np.uint8), np.zeros([4], np.int32), ("a",))
    with pytest.raises(UsageError, match="takes 32x32x3 images but tiny has 8x8x3"):
        evaluate_model(EvalConfig(model=str(tiny_run), output_dir=str(tmp_path),
                                  **VALID), DataSplits("tiny", small, small))


def test_a_model_for_other_classes_is_refused_before_any_output(tiny_run, tmp_path):
    from tf_fastls0.data import DataSplits, ImageSet
    import numpy as np

    three = ImageSet(np.zeros([4, 32, 32, 3], np.uint8), np.arange(4, dtype=np.int32) % 3,
                     ("a", "b", "c"))
    with pytest.raises(UsageError, match="the model gives 10 class scores but tiny has 3 classes"):
        evaluate_model(EvalConfig(model=str(tiny_run), output_dir=str(tmp_path / "out"),
                                  **VALID), DataSplits("tiny", three, three))
    assert not (tmp_path / "out").exists()


def test_a_disk_filling_midway_stops_keeping_the_last_saved_state(tiny_run, splits, tmp_path,
                                                                 monkeypatch):
    import errno
    import os

    from tf_fastls0.evaluation import state as state_lib
    from tf_fastls0.utils.cli import RunFailed

    save = state_lib.EvalState.save

    def filling_save(state, output_dir):
        if state.done_batches == {0}:
            return save(state, output_dir)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"{output_dir}/eval_state.npz")

    two_batches = {**VALID, "n_examples": 8}
    monkeypatch.setattr(state_lib, "SAVE_EVERY_SECONDS", 0.0)  # after every batch
    monkeypatch.setattr(state_lib.EvalState, "save", filling_save)
    with pytest.raises(RunFailed, match="No space left on device; the state last saved in "
                                        f"{tmp_path}/eval_state.npz is kept \\(1 batches done\\)"):
        evaluate_model(EvalConfig(model=str(tiny_run), output_dir=str(tmp_path),
                                  **two_batches), splits)
    monkeypatch.setattr(state_lib.EvalState, "save", save)
    report = evaluate_model(EvalConfig(model=str(tiny_run), output_dir=str(tmp_path), **two_batches,
                                       resume=True), splits)
    assert report["complete"] and report["n_examples"] == 8


@pytest.mark.parametrize("name, message", [
    ("a_folder", "--save_adversarial {path} is a folder, not a file"),
    ("grid.png", "--save_adversarial {path} would be overwritten by its own PNG grid"),
    ("a_file/adversarial.npz", "--save_adversarial {path}: {tmp}/a_file is a file, not a folder"),
])
def test_a_bad_save_adversarial_path_is_refused_before_any_work(name, message, tmp_path,
                                                                 monkeypatch):
    from tf_fastls0.evaluation import runner

    (tmp_path / "a_folder").mkdir()
    (tmp_path / "a_file").write_text("x")
    monkeypatch.setattr(runner, "load_model", pytest.fail)  # nothing is loaded, let alone attacked
    path = tmp_path / name
    with pytest.raises(UsageError, match=re.escape(message.format(path=path, tmp=tmp_path))):
        evaluate_model(EvalConfig(model="unused", output_dir=str(tmp_path / "out"),
                                  save_adversarial=str(path), **VALID))
    assert not (tmp_path / "out").exists()
