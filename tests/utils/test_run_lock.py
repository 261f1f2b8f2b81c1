"""One command per output folder: a second one is refused naming the process that holds the
folder, and the lock of a killed process does not block the next command."""

import os
import signal
import subprocess
import sys

import pytest

from tf_fastls0.utils.run_lock import LOCK_FILE, FolderBusy, hold_run_lock

HOLDER = """
import sys, time
from tf_fastls0.utils.run_lock import hold_run_lock
with hold_run_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def holder(repo, tmp_path):
    """A real process holding the lock of ``tmp_path / "busy"``; killed (SIGKILL) at the end."""
    folder = tmp_path / "busy"
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], cwd=repo,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    yield folder, process
    process.kill()
    process.wait()


def test_a_second_command_is_refused_naming_the_holder(holder):
    folder, process = holder
    with pytest.raises(FolderBusy, match=f"{folder} is in use by process {process.pid} "):
        with hold_run_lock(folder):
            pass
    assert (folder / LOCK_FILE).exists()  # the refused command took nothing away


def test_the_lock_of_a_killed_process_is_taken_over(holder):
    folder, process = holder
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (folder / LOCK_FILE).exists()  # stale: its process is gone
    with hold_run_lock(folder):
        assert str(os.getpid()) in (folder / LOCK_FILE).read_text()
    assert not (folder / LOCK_FILE).exists()


def test_a_folder_the_lock_created_goes_again_if_nothing_was_written(tmp_path):
    with hold_run_lock(tmp_path / "new" / "run"):
        assert (tmp_path / "new" / "run" / LOCK_FILE).exists()
    assert list(tmp_path.iterdir()) == []
    with hold_run_lock(tmp_path / "kept"):
        (tmp_path / "kept" / "report.json").write_text("{}")
    assert [path.name for path in (tmp_path / "kept").iterdir()] == ["report.json"]


def test_training_evaluation_and_analysis_take_the_lock(holder, tiny_run, run_module):
    from tf_fastls0.analysis.config import AnalysisConfig
    from tf_fastls0.analysis.runner import run_analyses
    from tf_fastls0.data import DataConfig
    from tf_fastls0.evaluation import EvalConfig, evaluate_model

    folder, process = holder
    busy = f"{folder} is in use by process {process.pid} "
    with pytest.raises(FolderBusy, match=busy):
        evaluate_model(EvalConfig(model=str(tiny_run),
                                  data=DataConfig(max_eval_examples=8, max_train_examples=1),
                                  output_dir=str(folder), eps=4, iterations=1, queries=1,
                                  n_examples=4, batch_size=4, progress=False))
    with pytest.raises(FolderBusy, match=busy):
        run_analyses(AnalysisConfig(model=(str(tiny_run),), analysis=("gradient_norm",),
                                    output_dir=str(folder)))
    trained = run_module("tf_fastls0.train", "--model=small_cnn", "--epochs=1",
                         f"--output_dir={folder}")
    assert trained.returncode == 2
    assert trained.stderr.strip().splitlines()[-1].startswith(f"error: {busy}")
    assert [path.name for path in folder.iterdir()] == [LOCK_FILE]
