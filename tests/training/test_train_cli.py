"""The trainer as a user runs it: ``python -m tf_fastls0.train`` in a subprocess."""

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.data import DataConfig, load_data


def test_run_writes_summary_checkpoints_and_events(tiny_run):
    summary = json.loads((tiny_run / "summary.json").read_text())
    assert summary["config"]["epochs"] == 2
    assert len(summary["epoch_seconds"]) == 2
    assert summary["tensorflow_version"] == tf.__version__
    assert tf.train.latest_checkpoint(str(tiny_run / "checkpoints")).endswith("ckpt-16")  # numbered by step: 8 steps x 2 epochs
    assert list((tiny_run / "logs" / "train").glob("events.out.tfevents.*"))
    assert list((tiny_run / "logs" / "validation").glob("events.out.tfevents.*"))
    assert json.loads((tiny_run / "config.json").read_text())["model"] == "small_cnn"


def test_the_resolved_settings_reach_tensorboards_hparams_dashboard(tiny_run):
    from tensorboard.plugins.hparams import plugin_data_pb2

    written = {}
    for path in (tiny_run / "logs").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "hparams":
                    data = plugin_data_pb2.HParamsPluginData.FromString(
                        value.metadata.plugin_data.content)
                    if data.HasField("session_start_info"):
                        written = dict(data.session_start_info.hparams)
    assert written["method"].string_value == "sparse_at"
    assert written["train_eps"].number_value == 120  # 6x the default --eval_eps
    assert written["data.max_train_examples"].number_value == 256


def test_saved_model_and_keras_file_give_the_same_logits(tiny_run):
    import keras

    images = load_data(DataConfig(max_eval_examples=16)).test.float_images()
    loaded = tf.saved_model.load(str(tiny_run / "saved_model"))
    served = loaded.serve(tf.constant(images)).numpy()
    network = keras.saving.load_model(tiny_run / "model.keras", safe_mode=True)
    np.testing.assert_allclose(network(images, training=False).numpy(), served, rtol=1e-4, atol=1e-4)
    assert served.shape == (16, 10)


def test_a_finished_run_resumes_without_training_again(tiny_run, run_module, tiny_run_args,
                                                        tmp_path):
    run = shutil.copytree(tiny_run, tmp_path / "run")  # tiny_run is shared: change a copy
    before = (run / "summary.json").read_text()
    result = run_module("tf_fastls0.train", *tiny_run_args, f"--output_dir={run}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(before)["clean_accuracy"] == pytest.approx(
        json.loads((run / "summary.json").read_text())["clean_accuracy"])


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_tensorboard_serves_the_logged_scalars(tiny_run):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", f"--logdir={tiny_run / 'logs'}",
         "--host=127.0.0.1", f"--port={port}", "--load_fast=false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        tags = _wait_for_tags(f"http://127.0.0.1:{port}/data/plugin/scalars/tags", deadline=90)
        assert "epoch_accuracy" in tags["validation"]
        assert "step/gradient_norm" in tags["train"]
        url = (f"http://127.0.0.1:{port}/data/plugin/scalars/scalars?run=validation"
               "&tag=epoch_accuracy&format=json")
        points = json.loads(urllib.request.urlopen(url, timeout=10).read())
        assert [step for _, step, _ in points] == [0, 1]
        assert all(0.0 <= value <= 1.0 for _, _, value in points)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for_tags(url, deadline):
    stop = time.monotonic() + deadline
    while True:
        try:
            tags = json.loads(urllib.request.urlopen(url, timeout=5).read())
            if tags.get("validation") and tags.get("train"):
                return tags
        except OSError:
            pass
        if time.monotonic() > stop:
            raise AssertionError(f"TensorBoard did not serve scalars at {url}")
        time.sleep(1)


@pytest.mark.parametrize("flag, message", [
    ("--learning_rate=nan", "--learning_rate=nan: must be a finite number"),
    ("positional_argument", "unexpected arguments"),
    ("--data_dir=/no/such/folder", "data folder /no/such/folder does not exist"),
])
def test_invalid_flags_stop_with_one_line_and_status_2(flag, message, run_module, tmp_path):
    # The command-line plumbing; every other refused value is checked in-process in
    # tests/training/test_config.py.
    output_dir = tmp_path / "out"
    result = run_module("tf_fastls0.train", flag, f"--output_dir={output_dir}")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr[-2000:]
    assert not output_dir.exists()


def test_a_flagfile_that_includes_itself_is_refused_before_any_work(run_module, tmp_path):
    """absl only warns about the cycle and skips the file: the run would start with defaults."""
    first, second = tmp_path / "first.flags", tmp_path / "second.flags"
    first.write_text(f"--epochs=1\n--flagfile={second}\n")
    second.write_text(f"--batch_size=8\n--flagfile={first}\n")
    output_dir = tmp_path / "out"
    result = run_module("tf_fastls0.train", f"--flagfile={first}", f"--output_dir={output_dir}")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: --flagfile={first} includes itself ({first} -> {second} -> "
                      f"{first}); absl would skip it and run without its settings"], \
        result.stderr[-2000:]
    assert not output_dir.exists()
