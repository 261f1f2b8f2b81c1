"""``benchmarks.threat_table`` evaluates a run under each threat, and its two parts can run apart:
a rerun of one part keeps the other's figures and skips the evaluations already written."""

import json

import pytest

pytestmark = pytest.mark.slow  # the slow selection (pytest.ini)


def test_threat_table_parts_run_apart_and_keep_each_others_figures(tiny_run, tmp_path,
                                                                   run_module):
    tiny = ["--n_examples=8", "--iterations=2", "--queries=3", "--batch=4", "--steps=2",
            "--repeats=1", "--threats=pixels:2,patches:1:3", f"--output_dir={tmp_path}",
            "--model=small_cnn", "--width=0.25"]
    first = run_module("benchmarks.threat_table", f"--models=tiny={tiny_run}",
                       "--parts=accuracy", *tiny)
    assert first.returncode == 0, first.stderr[-3000:]
    table = json.loads((tmp_path / "threat_table.json").read_text())
    assert [row["threat"] for row in table["robust_accuracy"]] == ["pixels:2", "patches:1:3"]
    assert [row["unit"] for row in table["robust_accuracy"]] == ["pixels", "patches"]
    assert table["iteration_cost"] == []
    report = tmp_path / "tiny" / "patches_1_3" / "report.json"
    written = report.stat().st_mtime_ns

    second = run_module("benchmarks.threat_table", f"--models=tiny={tiny_run}",
                        "--parts=cost", *tiny)
    assert second.returncode == 0, second.stderr[-3000:]
    table = json.loads((tmp_path / "threat_table.json").read_text())
    assert len(table["robust_accuracy"]) == 2
    costs = {row["threat"]: row["over_pixels"] for row in table["iteration_cost"]}
    assert costs["pixels_20"] == 1.0 and set(costs) == {"pixels_20", "pixels_2", "patches_1_3"}
    assert "over pixels" in (tmp_path / "threat_table.md").read_text()

    third = run_module("benchmarks.threat_table", f"--models=tiny={tiny_run}",
                       "--parts=accuracy", *tiny)
    assert third.returncode == 0, third.stderr[-3000:]
    assert report.stat().st_mtime_ns == written  # finished evaluations are not run again


def test_threat_table_names_a_model_it_cannot_load_in_one_line(tmp_path, run_module):
    missing = tmp_path / "no_such_run"
    result = run_module("benchmarks.threat_table", f"--models=gone={missing}",
                        "--parts=accuracy", f"--output_dir={tmp_path / 'out'}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: --model {missing}: no such file or folder"
