"""``python -m benchmarks.torch_step_cost`` on a tiny network: PyTorch's steps alone, beside ours
(``--compare``), and one line with exit 2 where PyTorch or a method's PyTorch step is missing."""

import json

import pytest

pytestmark = pytest.mark.slow  # the slow selection (pytest.ini)

TINY = ("--width=0.0625", "--batch_size=4", "--image_size=8", "--rounds=1",
        "--steps_per_round=1", "--train_eps=3", "--torch_threads=1")


def test_pytorch_steps_alone_are_timed_and_written(run_module, tmp_path):
    output = tmp_path / "torch_step_cost.json"
    result = run_module("benchmarks.torch_step_cost", *TINY, "--torch_reference_cost",
                        f"--output={output}")
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads(output.read_text())
    rows = {row["method"]: row for row in written["rows"]}
    assert set(rows) == {"standard", "sat_1step", "strades_t_1step", "fast_ls_l0_t"}
    assert all(row["torch_seconds_per_step"] > 0 and "ours_seconds_per_step" not in row
               for row in rows.values())
    assert rows["standard"]["torch_ratio_to_standard"] == 1.0
    assert written["torch_threads"] == 1 and written["settings"]["train_eps"] == 3
    assert written["settings"]["torch_reference_cost"] is True
    assert "| fast_ls_l0_t |" in result.stdout and "torch images/s" in result.stdout


def test_compare_prints_ours_beside_pytorch(run_module, tmp_path):
    output = tmp_path / "compare.json"
    result = run_module("benchmarks.torch_step_cost", *TINY, "--compare", "--tf_threads=2",
                        "--methods=standard,sat_1step", f"--output={output}")
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads(output.read_text())
    assert written["tf_threads"] == 2
    rows = written["rows"]
    assert [row["method"] for row in rows] == ["standard", "sat_1step"]
    for row in rows:
        assert row["torch_over_ours"] == row["torch_seconds_per_step"] / \
            row["ours_seconds_per_step"]
    assert "| method | ours s/step | torch s/step |" in result.stdout
    assert "| sat_1step |" in result.stdout


def test_without_pytorch_one_line_and_exit_2(run_module, tmp_path):
    hidden = tmp_path / "torch"
    hidden.mkdir()
    (hidden / "__init__.py").write_text("raise ImportError(\"No module named 'torch'\")\n")
    result = run_module("benchmarks.torch_step_cost", *TINY,
                        env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 2, result.stderr[-3000:]
    assert "needs PyTorch" in result.stderr and "pip install" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_method_without_a_pytorch_step_is_refused(run_module):
    result = run_module("benchmarks.torch_step_cost", *TINY, "--methods=standard,sat_20step")
    assert result.returncode == 2
    assert "no PyTorch step for sat_20step" in result.stderr
