"""``python -m benchmarks.scaling`` on a tiny model: every sweep's table, the files it writes."""

import json

import pytest

pytestmark = pytest.mark.slow  # the slow selection (pytest.ini)


def test_scaling_prints_and_writes_every_sweep(tmp_path, run_module):
    result = run_module("benchmarks.scaling", "--model=small_cnn", "--width=0.25",
                        "--batch_size=16", "--steps_sweep=1,3", "--batch_sweep=8,16",
                        "--eps_sweep=1,20", "--train_sizes=32,48", "--rounds=1",
                        "--steps_per_round=1", f"--output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    for heading in ("## attack steps", "## batch size", "## eps (pixels, 1-step attack)",
                    "## training images"):
        assert heading in result.stdout
    sweeps = json.loads((tmp_path / "scaling.json").read_text())["sweeps"]
    assert [row["value"] for row in sweeps["attack steps"]["rows"]] == [1, 3]
    assert [row["value"] for row in sweeps["training images"]["rows"]] == [32, 48]
    for sweep in sweeps.values():
        assert sweep["rows"][0]["ratio_to_first"] == 1.0
        for row in sweep["rows"]:
            assert row["seconds"] > 0 and 0.0 <= row["unfooled_percent"] <= 100.0
    # labels are the model's own predictions and the model is held fixed: at a 1-pixel budget
    # the 1-step attack leaves most images as they were classified (so none is skipped)
    assert sweeps["attack steps"]["rows"][0]["unfooled_percent"] >= 50.0
    assert (tmp_path / "scaling.md").read_text().startswith("# Scaling of sparse_at")
    assert (tmp_path / "scaling.png").stat().st_size > 0
