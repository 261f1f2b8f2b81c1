"""What a training does with its --output_dir: it recognises its own runs by their marker and
replaces (``--overwrite``) only what it wrote; a folder it did not write is never touched."""

import json

import pytest

from tf_fastls0.training.run import train_and_evaluate
from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.run_marker import MARKER_FILE, read_marker


def snapshot(folder):
    """Every path below ``folder`` with its bytes (None for folders)."""
    return {str(path.relative_to(folder)): None if path.is_dir() else path.read_bytes()
            for path in sorted(folder.rglob("*"))}


def test_overwrite_refuses_a_folder_that_merely_holds_a_config_json(tmp_path, tiny_config):
    folder = tmp_path / "mine"
    (folder / "logs").mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model": "x", "method": "y", "epochs": 1,
                                                    "data": {}, "output_dir": "."}))
    (folder / "thesis.tex").write_text("years of work")
    (folder / "logs" / "notes.txt").write_text("mine too")
    before = snapshot(folder)
    with pytest.raises(UsageError, match=f"{folder} is not empty and holds no tf_fastls0 run "
                                         r"\(it holds config.json, logs, thesis.tex\)"):
        train_and_evaluate(tiny_config(folder, overwrite=True))
    assert snapshot(folder) == before


def test_overwrite_replaces_only_what_the_run_wrote(copy_run, tiny_config):
    run = copy_run()
    (run / "harness.json").write_text("{}")  # the benchmark harness's ledger of this run
    (run / "notes.txt").write_text("my notes on this run")
    (run / "eval_mine").mkdir()
    (run / "eval_mine" / "report.json").write_text("{}")
    with pytest.raises(UsageError, match="holds a run with other settings \\(learning_rate\\)"):
        train_and_evaluate(tiny_config(run, learning_rate=0.01))
    summary = train_and_evaluate(tiny_config(run, learning_rate=0.01, overwrite=True))
    assert summary["config"]["learning_rate"] == 0.01
    assert json.loads((run / "config.json").read_text())["learning_rate"] == 0.01
    assert (run / "notes.txt").read_text() == "my notes on this run"
    assert (run / "eval_mine" / "report.json").read_text() == "{}"
    assert not (run / "harness.json").exists()
    assert read_marker(run) == "training run"


def test_a_run_made_before_the_marker_is_still_recognised(copy_run, tiny_config):
    run = copy_run()
    (run / MARKER_FILE).unlink()
    (run / "eval_k20_saa").mkdir()  # an evaluation the benchmark harness put in the run folder
    before = json.loads((run / "summary.json").read_text())
    summary = train_and_evaluate(tiny_config(run))  # finished: nothing to train again
    assert summary["clean_accuracy"] == before["clean_accuracy"]
    assert read_marker(run) == "training run"


def test_a_folder_of_another_command_is_refused(tmp_path, tiny_config):
    folder = tmp_path / "evaluation"
    folder.mkdir()
    (folder / MARKER_FILE).write_text(json.dumps({"kind": "evaluation"}))
    with pytest.raises(UsageError, match="holds a tf_fastls0 evaluation, not a training run"):
        train_and_evaluate(tiny_config(folder, overwrite=True))
    assert [path.name for path in folder.iterdir()] == [MARKER_FILE]


def test_leftovers_of_an_export_killed_midway_are_cleaned_by_the_next_run(copy_run,
                                                                          tiny_config):
    run = copy_run()
    (run / "summary.json").unlink()  # killed during the export: the summary comes last
    (run / "saved_model.tmp-4242").mkdir()
    (run / "saved_model.tmp-4242" / "saved_model.pb").write_bytes(b"half")
    (run / "model.keras.tmp-4242.keras").write_bytes(b"half")
    (run / "checkpoints" / "ckpt-5_temp").mkdir()  # a checkpoint save killed midway
    (run / "draft.tex.tmp-2024").write_text("not a write of ours")
    train_and_evaluate(tiny_config(run))
    assert sorted(path.name for path in run.iterdir()) == sorted(
        [MARKER_FILE, "checkpoints", "config.json", "logs", "model.keras", "saved_model",
         "summary.json", "draft.tex.tmp-2024"])
    assert not (run / "checkpoints" / "ckpt-5_temp").exists()
