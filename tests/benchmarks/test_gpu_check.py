"""``benchmarks/gpu/check.sh --tiny`` runs every part of the GPU check on the CPU and writes what
it measured to the folder it is given."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # the slow selection (pytest.ini)


def test_the_tiny_gpu_check_measures_every_part_and_writes_its_results(repo, tmp_path,
                                                                      cifar10_dir):
    result = subprocess.run(
        [str(repo / "benchmarks" / "gpu" / "check.sh"), "--tiny", f"--output_dir={tmp_path}",
         f"--data_dir={cifar10_dir}"], env={**os.environ, "PYTHON": sys.executable},
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    epoch, saa, steps = results["epoch"], results["saa"], results["steps"]
    assert epoch["train_images"] == 64 and epoch["images_per_second"] > 0
    assert 0 <= epoch["waiting_for_data_fraction"] < 1
    assert epoch["projected_minutes_100_epochs"] > 0
    assert saa["k"] == 20 and saa["images"] == 8 and saa["images_per_second"] > 0
    assert steps["complete"]
    assert {(r["method"], r["mixed_precision"]) for r in steps["rows"]} == {
        (method, precision) for method in ("standard", "fast_ls_l0_t")
        for precision in ("off", "mixed_bfloat16")}
    assert all(r["seconds_per_step"] > 0 for r in steps["rows"])
    assert set(steps["projected_minutes_100_epochs"]) == {"off, XLA off",
                                                         "mixed_bfloat16, XLA off"}
    assert [r["candidate"] for r in results["fit"]["rows"]] == [
        "bare step", "fit + callbacks, 1 per execution", "fit + callbacks, 2 per execution"]
    assert all(r["seconds_per_step"] > 0 for r in results["fit"]["rows"])
    assert results["versions"]["tensorflow"]
    summary = (tmp_path / "summary.md").read_text()
    assert "Projected 100 epochs" in summary and "paper: 50 min" in summary
    assert "What Keras' fit adds" in summary
    assert not (repo / "benchmarks" / "results" / "gpu_check" / "CPU").exists()


def test_a_missing_image_folder_is_one_line_and_exit_status_2(run_module, tmp_path):
    result = run_module("benchmarks.gpu_check", "--tiny", f"--data_dir={tmp_path / 'none'}",
                        f"--output_dir={tmp_path / 'out'}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: --data_dir={tmp_path / 'none'}: no such folder (the CIFAR-10 image folder)")
    assert not (tmp_path / "out").exists()
