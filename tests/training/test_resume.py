"""Runs that survive: SIGKILL and resume (on the 224x224 ImageNet path too; AdamW with a cosine
schedule resumed in-process), refused output folders, a diverging loss."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.utils.run_lock import LOCK_FILE

RUN = ["--model=small_cnn", "--width=0.25", "--epochs=3", "--batch_size=32",
       "--max_train_examples=256", "--max_eval_examples=32", "--method=fast_ls_l0",
       "--train_eps=6", "--eval_eps=6", "--soft_label_start_epoch=0", "--val_robust_examples=0",
       "--deterministic", "--checkpoint_every_steps=3", "--verbose=2"]


def final_state(output_dir):
    path = tf.train.latest_checkpoint(str(output_dir / "checkpoints"))
    reader = tf.train.load_checkpoint(path)
    names = sorted(name for name in reader.get_variable_to_shape_map()
                   if name.startswith("network/") and "OPTIMIZER_SLOT" not in name)
    assert names
    weights = {name: reader.get_tensor(name) for name in names}
    return path, weights, reader.get_tensor("soft_labels/.ATTRIBUTES/VARIABLE_VALUE")


def assert_same_final_state(whole_dir, resumed_dir, step):
    """Both runs end at ``ckpt-<step>`` with the same network weights and soft labels; returns
    both checkpoint paths and the soft labels."""
    path_a, weights_a, labels_a = final_state(whole_dir)
    path_b, weights_b, labels_b = final_state(resumed_dir)
    assert path_a.endswith(f"ckpt-{step}") and path_b.endswith(f"ckpt-{step}")
    assert weights_a.keys() == weights_b.keys()
    for name in weights_a:
        np.testing.assert_allclose(weights_a[name], weights_b[name], rtol=0, atol=1e-6,
                                   err_msg=name)
    np.testing.assert_allclose(labels_a, labels_b, rtol=0, atol=1e-6)
    return path_a, path_b, labels_a


def kill_when_checkpoint_appears(process, checkpoint_dir, step, deadline=300):
    stop = time.monotonic() + deadline
    while not (checkpoint_dir / f"ckpt-{step}.index").exists():
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < stop, "no mid-epoch checkpoint appeared"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_a_run_killed_mid_epoch_resumes_to_the_same_weights_and_soft_labels(tmp_path, repo,
                                                                          run_module):
    reference = run_module("tf_fastls0.train", *RUN, f"--output_dir={tmp_path / 'whole'}")
    assert reference.returncode == 0, reference.stderr[-3000:]

    killed_dir = tmp_path / "killed"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen([sys.executable, "-m", "tf_fastls0.train", *RUN,
                                f"--output_dir={killed_dir}"], cwd=repo, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_when_checkpoint_appears(process, killed_dir / "checkpoints", step=12)  # epoch 2 of 3
    assert process.returncode == -signal.SIGKILL
    assert not (killed_dir / "summary.json").exists()
    assert (killed_dir / LOCK_FILE).exists()  # the killed run's lock is stale, not in the way

    resumed = run_module("tf_fastls0.train", *RUN, f"--output_dir={killed_dir}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stdout
    assert not (killed_dir / LOCK_FILE).exists()

    labels = assert_same_final_state(tmp_path / "whole", killed_dir, step=24)[2]
    assert not np.allclose(labels, np.eye(10)[np.argmax(labels, 1)])  # the buffer did move


def test_adamw_with_a_warmed_up_cosine_resumes_to_the_uninterrupted_weights(tmp_path, tiny_config,
                                                                          capsys):
    from tf_fastls0.training.run import train_and_evaluate

    # 2 epochs of 2 steps, the first epoch warming up; resumed from step 2, mid-schedule.
    adamw = dict(optimizer="adamw", lr_schedule="cosine", warmup_epochs=1, learning_rate=0.01,
                 weight_decay=0.05)
    train_and_evaluate(tiny_config(tmp_path / "whole", **adamw))
    stopped = shutil.copytree(tmp_path / "whole", tmp_path / "stopped")
    for path in [stopped / "summary.json", stopped / "model.keras",
                 *(stopped / "checkpoints").glob("ckpt-[34].*")]:
        path.unlink()
    shutil.rmtree(stopped / "saved_model")
    (stopped / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-2"\n')

    train_and_evaluate(tiny_config(stopped, **adamw))
    assert f"resuming from {stopped / 'checkpoints' / 'ckpt-2'} (step 2)" in capsys.readouterr().out
    path_a, path_b, _ = assert_same_final_state(tmp_path / "whole", stopped, step=4)
    reader_a, reader_b = tf.train.load_checkpoint(path_a), tf.train.load_checkpoint(path_b)
    names = reader_a.get_variable_to_shape_map()
    moments = [name for name in names if name.startswith("optimizer/_variables/")]
    assert len(moments) == 2 * sum(name.startswith("optimizer/_trainable_variables/")
                                   for name in names)  # AdamW's two moments of every weight
    for name in moments:
        np.testing.assert_allclose(reader_a.get_tensor(name), reader_b.get_tensor(name),
                                   rtol=1e-4, atol=1e-9, err_msg=name)


def test_an_output_dir_with_other_settings_is_refused_unless_overwrite(tmp_path, run_module):
    tiny = ["--model=small_cnn", "--width=0.25", "--epochs=1", "--batch_size=32",
            "--max_train_examples=64", "--max_eval_examples=32", f"--output_dir={tmp_path}"]
    assert run_module("tf_fastls0.train", *tiny).returncode == 0
    before = sorted(p.name for p in tmp_path.rglob("*"))
    refused = run_module("tf_fastls0.train", *tiny, "--learning_rate=0.01")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith(
        f"error: {tmp_path} holds a run with other settings (learning_rate)")
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    replaced = run_module("tf_fastls0.train", *tiny, "--learning_rate=0.01", "--overwrite")
    assert replaced.returncode == 0, replaced.stderr[-2000:]
    assert '"learning_rate": 0.01' in (tmp_path / "config.json").read_text()


def test_a_foreign_non_empty_folder_is_refused(tmp_path, run_module):
    (tmp_path / "notes.txt").write_text("mine")
    result = run_module("tf_fastls0.train", "--epochs=1", f"--output_dir={tmp_path}")
    assert result.returncode == 2
    assert "is not empty and holds no tf_fastls0 run" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_diverging_loss_stops_with_the_step_and_keeps_a_loadable_checkpoint(tmp_path, run_module):
    result = run_module("tf_fastls0.train", "--model=small_cnn_nobn", "--width=0.25", "--epochs=2",
                        "--batch_size=32", "--max_train_examples=256", "--max_eval_examples=32",
                        "--learning_rate=1e30", "--weight_decay=0", "--checkpoint_every_steps=1",
                        f"--output_dir={tmp_path}")
    assert result.returncode == 1
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: the loss became NaN or infinite by step ")
    assert not (tmp_path / "saved_model").exists() and not (tmp_path / "summary.json").exists()
    latest = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    assert latest and latest in message
    reader = tf.train.load_checkpoint(latest)
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        if name.startswith("network/") and np.issubdtype(np.asarray(value).dtype, np.floating):
            assert np.all(np.isfinite(value)), name


@pytest.mark.parametrize("stop, status, word", [("SIGINT", 130, "interrupted"),
                                                 ("SIGTERM", 143, "terminated")])
def test_ctrl_c_or_sigterm_stops_training_with_one_line(stop, status, word, tmp_path,
                                                        start_module, wait_for):
    """Ctrl-C at a terminal, SIGTERM from a job scheduler: the step ends, its checkpoint is
    saved, one line names it."""
    process = start_module("tf_fastls0.train", *RUN, f"--output_dir={tmp_path}")
    wait_for(tmp_path / "checkpoints" / "ckpt-3.index", process)
    process.send_signal(getattr(signal, stop))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == status, stderr[-3000:]
    assert "Traceback" not in stderr
    interrupted = [line for line in stderr.splitlines() if line.startswith(f"{word}:")]
    assert len(interrupted) == 1 and stderr.strip().endswith(interrupted[0])
    assert "stopping after this step and saving a checkpoint" in stderr
    stopped_at = int(interrupted[0].split("training stopped at step ")[1].split(";")[0])
    newest = final_state(tmp_path)[0]
    assert newest.endswith(f"ckpt-{stopped_at}")  # the step reached is saved, not an older one
    assert interrupted[0].endswith(f"the last checkpoint is {newest}; run the same command "
                                   "again to resume")
    assert not (tmp_path / LOCK_FILE).exists()


# The ImageNet-100 Fast-LS-l0 flagfile on a tiny generated ImageNet-like folder: the training split
# streams with ImageNet crops at 224x224. The small CNN stands in for its ResNet-34, whose three
# traces here cost CI 40 s (ResNet-34 trains at 224 in tests/models/test_models.py).
IMAGENET_RUN = ["--flagfile=configs/imagenet100_fast_ls_l0_t.flags", "--model=small_cnn",
                "--width=0.25",
                "--epochs=2", "--batch_size=4", "--soft_label_start_epoch=0", "--val_robust_examples=0",
                "--final_eval=none", "--deterministic", "--checkpoint_every_steps=1",
                "--verbose=2"]


@pytest.mark.slow
def test_the_imagenet_flagfile_streams_exports_and_resumes_exactly(tmp_path, repo, run_module,
                                                                   imagenet_like):
    folder = tmp_path / "imagenet_like"
    imagenet_like.write_folder(str(folder), classes=3, per_split={"train": 4, "test": 2},
                               min_side=48, max_side=96, seed=0)
    run = [*IMAGENET_RUN, f"--data_dir={folder}"]
    whole = run_module("tf_fastls0.train", *run, f"--output_dir={tmp_path / 'whole'}",
                       timeout=1800)
    assert whole.returncode == 0, whole.stderr[-3000:]
    assert (tmp_path / "whole" / "model.keras").exists()
    assert (tmp_path / "whole" / "saved_model").is_dir()

    killed_dir = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "tf_fastls0.train", *run,
                                f"--output_dir={killed_dir}"], cwd=repo,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # epoch 2 of 2; generous limits, since a loaded machine traces ResNet-34 slowly
    kill_when_checkpoint_appears(process, killed_dir / "checkpoints", step=4, deadline=1800)
    assert process.returncode == -signal.SIGKILL
    resumed = run_module("tf_fastls0.train", *run, f"--output_dir={killed_dir}", timeout=1800)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stdout

    labels = assert_same_final_state(tmp_path / "whole", killed_dir, step=6)[2]
    assert labels.shape == (12, 3)
