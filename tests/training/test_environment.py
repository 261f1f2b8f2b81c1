"""Problems of the user's environment: an unusable --output_dir is refused before any work and
leaves nothing behind; a disk that fills midway stops the run (exit status 1) naming the last good
checkpoint, with no partial checkpoint left."""

import errno
import os

import pytest
import tensorflow as tf

from tf_fastls0.training import run as run_lib
from tf_fastls0.training import run_folder
from tf_fastls0.training.checkpoints import CheckpointWriteFailed
from tf_fastls0.training.run import train_and_evaluate
from tf_fastls0.utils.cli import RunFailed, UsageError


def no_space(path):
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def test_an_output_dir_that_is_a_file_is_refused_before_loading_data(tmp_path, tiny_config,
                                                                      monkeypatch):
    (tmp_path / "run").write_text("not a folder")
    monkeypatch.setattr(run_lib.data_lib, "load_data", pytest.fail)  # no work is done
    with pytest.raises(UsageError, match=f"--output_dir {tmp_path}/run is a file, not a folder"):
        train_and_evaluate(tiny_config(tmp_path / "run"))


def test_a_full_disk_at_the_start_is_one_line_and_leaves_no_folder(tmp_path, tiny_config,
                                                                    monkeypatch):
    def write_json(path, payload):
        raise no_space(path)

    monkeypatch.setattr(run_folder, "write_json", write_json)
    with pytest.raises(UsageError, match=f"cannot write {tmp_path}/new/run/config.json: No space "
                                         "left on device$"):
        train_and_evaluate(tiny_config(tmp_path / "new" / "run"))
    assert list(tmp_path.iterdir()) == []


def test_a_disk_filling_midway_keeps_the_last_good_checkpoint_and_no_partial_one(
        tmp_path, tiny_config, monkeypatch):
    """The third save writes part of its files, then the disk is full."""
    write = tf.train.Checkpoint._write

    def filling_write(checkpoint, prefix, options=None):
        if prefix.endswith("ckpt-3"):
            os.makedirs(prefix + "_temp")
            with open(prefix + ".data-00000-of-00001", "wb") as handle:
                handle.write(b"\0" * 100)
            raise no_space(prefix + ".data-00000-of-00001")
        return write(checkpoint, prefix, options=options)

    monkeypatch.setattr(tf.train.Checkpoint, "_write", filling_write)
    run = tmp_path / "run"
    with pytest.raises(CheckpointWriteFailed) as failed:
        train_and_evaluate(tiny_config(run))
    assert isinstance(failed.value, RunFailed)  # exit status 1
    assert str(failed.value).startswith(f"cannot write checkpoint {run}/checkpoints/ckpt-3: No "
                                        "space left on device; its partial files were removed "
                                        f"and the last good checkpoint is {run}/checkpoints/ckpt-2")
    assert sorted(path.name for path in (run / "checkpoints").iterdir()) == [
        "checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index",
        "ckpt-2.data-00000-of-00001", "ckpt-2.index"]
    assert tf.train.latest_checkpoint(str(run / "checkpoints")) == str(run / "checkpoints" /
                                                                       "ckpt-2")

    monkeypatch.setattr(tf.train.Checkpoint, "_write", write)  # space freed: it resumes
    train_and_evaluate(tiny_config(run))
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-4")


@pytest.mark.parametrize("error", ["OSError", "tf.errors.ResourceExhaustedError"])
def test_a_disk_filling_during_the_export_names_the_checkpoint_to_export_from(
        error, copy_run, tiny_config, monkeypatch):
    """TensorFlow's own writers (the SavedModel's variables) raise its errors, which have no
    ``filename`` or ``strerror``: the handler still gives its one line."""
    run = copy_run()
    (run / "summary.json").unlink()

    def export_network(network, output_dir):
        path = os.path.join(output_dir, "saved_model.tmp-1")
        if error == "OSError":
            raise no_space(path)
        raise tf.errors.ResourceExhaustedError(
            None, None, f"{path}/variables/variables.data-00000-of-00001.tempstate1; No space "
            "left on device")

    monkeypatch.setattr(run_lib, "export_network", export_network)
    with pytest.raises(RunFailed, match=f"No space left on device; training is done, the last "
                                        f"checkpoint is {run}/checkpoints/ckpt-4; "):
        train_and_evaluate(tiny_config(run))
    assert not (run / "summary.json").exists()


@pytest.mark.parametrize("error", ["OSError", "tf.errors.ResourceExhaustedError",
                                   "tf.errors.UnknownError"])
def test_a_checkpoint_write_failing_gives_its_line_whatever_error_reaches_it(error, tmp_path,
                                                                             monkeypatch):
    """``checkpoints.save`` meets OSErrors (Python writes) and TensorFlow's errors (its file
    system layer), the latter without ``filename`` or ``strerror``, sometimes without a
    message."""
    from tf_fastls0.training import checkpoints

    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(1.0)),
                                         str(tmp_path), max_to_keep=3)
    checkpoints.save(manager, 1)
    raised = {"OSError": no_space(tmp_path / "ckpt-2.index"),
              "tf.errors.ResourceExhaustedError": tf.errors.ResourceExhaustedError(
                  None, None, f"{tmp_path}/ckpt-2.index; No space left on device"),
              "tf.errors.UnknownError": tf.errors.UnknownError(None, None, "")}[error]

    def failing_write(checkpoint, prefix, options=None):
        raise raised

    monkeypatch.setattr(tf.train.Checkpoint, "_write", failing_write)
    with pytest.raises(CheckpointWriteFailed) as failed:
        checkpoints.save(manager, 2)
    reason = {"OSError": "No space left on device",
              "tf.errors.ResourceExhaustedError": f"{tmp_path}/ckpt-2.index; No space left on "
                                                  "device",
              "tf.errors.UnknownError": "UnknownError"}[error]
    assert str(failed.value) == (
        f"cannot write checkpoint {tmp_path}/ckpt-2: {reason}; its partial files were removed "
        f"and the last good checkpoint is {tmp_path}/ckpt-1; fix that and run the same command "
        "again to resume")
