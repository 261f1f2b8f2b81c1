"""``python -m benchmarks.small_model`` on a tiny configuration: the step of each network of the
sweep beside PyTorch's, the epochs through ``fit`` beside PyTorch's loop."""

import json

import pytest

pytestmark = pytest.mark.slow  # the slow selection (pytest.ini): about a minute

TINY = ("--batch_size=8", "--image_size=8", "--rounds=1", "--steps_per_round=1",
        "--train_eps=3", "--torch_threads=1", "--tf_threads=1")


def test_the_sweep_and_the_epochs_are_timed_and_written(run_module, tmp_path):
    output = tmp_path / "small_model.json"
    result = run_module("benchmarks.small_model", *TINY, "--networks=small_cnn:0.25",
                        "--epoch_networks=small_cnn:0.25", "--epoch_images=20",
                        "--epoch_rounds=1", "--methods=standard,strades_t_1step",
                        f"--output={output}")
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads(output.read_text())
    steps = written["steps"]
    assert [(row["network"], row["width"], row["method"]) for row in steps] == [
        ("small_cnn", 0.25, "standard"), ("small_cnn", 0.25, "strades_t_1step")]
    for row in steps:
        assert row["torch_over_ours"] == row["torch_seconds_per_step"] / \
            row["ours_seconds_per_step"]
    (epoch,) = written["epochs"]
    assert epoch["images"] == 20 and epoch["steps_per_epoch"] == 3  # 8 + 8 + 4
    assert all(epoch[f"{name}_seconds_per_epoch"] > 0 for name in ("torch", "ours_fit",
                                                                   "ours_loop"))
    assert "bfloat16 flags" in written["cpu"] and written["settings"]["mixed_precision"] == "off"
    assert "| small_cnn | 0.25 |" in result.stdout and "ours fit s/epoch" in result.stdout


def test_a_network_without_a_pytorch_twin_is_refused(run_module):
    result = run_module("benchmarks.small_model", *TINY, "--networks=convnext_tiny:1")
    assert result.returncode == 2
    assert "has no PyTorch twin" in result.stderr and "Traceback" not in result.stderr



def test_without_pytorch_one_line_and_exit_2(run_module, tmp_path):
    hidden = tmp_path / "torch"
    hidden.mkdir()
    (hidden / "__init__.py").write_text("raise ImportError(\"No module named 'torch'\")\n")
    result = run_module("benchmarks.small_model", *TINY, "--networks=small_cnn:0.25",
                        env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 2, result.stderr[-3000:]
    assert "needs PyTorch" in result.stderr and "Traceback" not in result.stderr
