"""Damaged run files: a run resumes from the newest checkpoint that reads back completely, says
which it skipped and why, and stops with one line when none does; a damaged config.json or
summary.json is never a traceback."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0 import data as data_lib
from tf_fastls0.training.checkpoints import CheckpointsUnreadable, restore_newest_complete
from tf_fastls0.training.run import build_trainer, make_checkpoint, train_and_evaluate
from tf_fastls0.utils.cli import UsageError

DATA = "ckpt-{}.data-00000-of-00001"


def truncate(path):
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])


DAMAGES = {  # name: (damage(checkpoints folder), step restored, words of each warning line)
    "garbage index": (lambda d: (d / "checkpoint").write_bytes(b"\x00model_checkpoint {{"),
                      4, ["checkpoint index"]),
    "empty index": (lambda d: (d / "checkpoint").write_text(""), 4, ["checkpoint index"]),
    "index naming a lost checkpoint": (
        lambda d: (d / "checkpoint").write_text('model_checkpoint_path: "ckpt-9"\n'), 4,
        ["ckpt-9: its file ckpt-9.index is missing"]),
    "truncated newest data": (lambda d: truncate(d / DATA.format(4)), 3,
                              ["ckpt-4: it does not read back"]),
    "missing newest data": (lambda d: (d / DATA.format(4)).unlink(), 3,
                            ["ckpt-4: its data file ckpt-4.data-* is missing"]),
    "empty newest index file": (lambda d: (d / "ckpt-4.index").write_bytes(b""), 3,
                                ["ckpt-4: it does not read back"]),
    "two newest damaged, garbage index": (
        lambda d: [(d / "checkpoint").write_text("garbage"), truncate(d / DATA.format(4)),
                   (d / DATA.format(3)).write_bytes(b"\x00" * 64)], 2,
        ["checkpoint index", "ckpt-4: it does not read back", "ckpt-3: it does not read back"]),
}


def fresh_checkpoint(config):
    splits = data_lib.load_data(config.data)
    trainer, optimizer = build_trainer(config, splits)
    return make_checkpoint(trainer, optimizer), trainer, optimizer


@pytest.mark.parametrize("damage", DAMAGES)
def test_restores_the_newest_checkpoint_that_reads_back(damage, copy_run, tiny_config, capsys):
    run = copy_run()
    spoil, step, skip_words = DAMAGES[damage]
    spoil(run / "checkpoints")
    checkpoint, trainer, optimizer = fresh_checkpoint(tiny_config(run))
    restored = restore_newest_complete(checkpoint, str(run / "checkpoints"))

    assert restored == str(run / "checkpoints" / f"ckpt-{step}")
    assert int(optimizer.iterations.numpy()) == step
    reader = tf.train.load_checkpoint(restored)
    pairs = [(variable, f"optimizer/_trainable_variables/{i}")  # the order optimizer.build saw
             for i, variable in enumerate(trainer.network.trainable_variables)]
    pairs.append((trainer.buffer.rows, "soft_labels"))
    for variable, key in pairs:
        np.testing.assert_array_equal(variable.numpy(),
                                      reader.get_tensor(f"{key}/.ATTRIBUTES/VARIABLE_VALUE"))
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == len(skip_words), warnings
    for line, words in zip(warnings, skip_words):
        assert line.startswith("warning: ") and words in line, line
    assert tf.train.latest_checkpoint(str(run / "checkpoints")) == restored  # index repaired


def test_a_garbage_index_resumes_instead_of_starting_again(copy_run, tiny_config, capsys):
    run = copy_run()
    (run / "summary.json").unlink()
    (run / "checkpoints" / "checkpoint").write_text("garbage")
    truncate(run / "checkpoints" / DATA.format(4))
    train_and_evaluate(tiny_config(run))
    output = capsys.readouterr()
    assert f"resuming from {run / 'checkpoints' / 'ckpt-3'} (step 3)" in output.out
    assert "skipping checkpoint" in output.err
    final = tf.train.latest_checkpoint(str(run / "checkpoints"))
    assert final.endswith("ckpt-4")
    reader = tf.train.load_checkpoint(final)
    for key in reader.get_variable_to_shape_map():
        reader.get_tensor(key)  # the step redone wrote a complete checkpoint over the damaged one
    assert (run / "summary.json").exists()


def test_no_readable_checkpoint_stops_naming_the_folder_and_changes_nothing(copy_run, tiny_config):
    run = copy_run()
    (run / "summary.json").unlink()
    for step in (2, 3, 4):
        truncate(run / "checkpoints" / DATA.format(step))
    before = {path: path.read_bytes() for path in run.rglob("*") if path.is_file()}
    with pytest.raises(CheckpointsUnreadable,
                       match=f"no checkpoint in {run / 'checkpoints'} reads back completely"):
        train_and_evaluate(tiny_config(run))
    assert {path: path.read_bytes() for path in run.rglob("*") if path.is_file()} == before


@pytest.mark.parametrize("content", [b"", b"{\"model\": ", b"[1, 2]"])
def test_a_damaged_config_json_is_refused_unless_overwrite(content, copy_run, tiny_config):
    run = copy_run()
    (run / "config.json").write_bytes(content)
    with pytest.raises(UsageError, match=f"{run} holds a run with other settings \\(unknown: "
                                         "config.json"):
        train_and_evaluate(tiny_config(run))
    assert (run / "config.json").read_bytes() == content


def test_a_damaged_summary_json_exports_again(copy_run, tiny_config, capsys):
    run = copy_run()
    (run / "summary.json").write_text("{\"clean_accura")
    summary = train_and_evaluate(tiny_config(run))
    assert "cannot be read" in capsys.readouterr().err
    assert json.loads((run / "summary.json").read_text())["clean_accuracy"] == \
        summary["clean_accuracy"]
