"""``benchmarks/gpu/run_table.sh`` on the smoke table on CPU, as on two GPUs: XLA, the mirrored
strategy with synchronised BatchNorm, and the evaluation in two shards merged."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # the slow selection (pytest.ini)


def test_run_table_finishes_the_smoke_table(tmp_path, repo, cifar10_dir):
    env = {**os.environ, "PYTHON": sys.executable, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        ["benchmarks/gpu/run_table.sh", "smoke", "--gpus=2", "--piece_seconds=400", "--",
         f"--output_dir={tmp_path}", f"--runs_dir={tmp_path / 'runs'}", "--only=fast_ls_l0_t"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "finished after 1 piece(s)" in result.stdout
    run = tmp_path / "runs" / "fast_ls_l0_t"
    config = json.loads((run / "config.json").read_text())
    assert config["jit_compile"] and config["strategy"] == "mirrored" and config["sync_batchnorm"]
    report = json.loads(next(run.glob("eval_*/report.json")).read_text())
    assert report["complete"] and len(report["merged_from"]) == 2
    assert report["n_examples"] == 32
    assert (tmp_path / "table.md").exists()


def test_run_table_refuses_an_unknown_table(repo):
    result = subprocess.run(["benchmarks/gpu/run_table.sh", "no_such_table"], cwd=repo,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no table config" in result.stderr
