"""``python -m benchmarks.attack_cost`` on a tiny model: every figure is written and printed."""

import json

import numpy as np
import pytest

from benchmarks import stage_cost

pytestmark = pytest.mark.slow  # the slow selection (pytest.ini)

FIGURES = ("a_iteration_over_forward_backward", "b_1_step_over_forward_backward_forward",
           "c_saa_images_per_second", "d_saa_fresh_call_seconds", "d_saa_kept_call_seconds",
           "d_fresh_over_kept")


def test_the_pass_figures_are_measured_and_printed(run_module, tmp_path):
    output = tmp_path / "attack_cost.json"
    result = run_module("benchmarks.attack_cost", "--model=small_cnn", "--width=0.25",
                        "--batch=8", "--image_size=8", "--steps=2", "--repeats=1",
                        "--saa_iterations=2", "--saa_queries=2", "--saa_batches=1",
                        "--figures=a", "--figures=b", "--figures=c", "--figures=d",
                        f"--output={output}")
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(output.read_text())
    assert all(figures[name] > 0 for name in FIGURES), figures
    assert "(d) fresh / kept" in result.stdout and "(a) iteration / fwd+bwd" in result.stdout
    assert "e_stage_cost" not in figures and "(e) stage cost" not in result.stdout


def test_the_stage_cost_figure_alone_compacted_and_not(run_module, tmp_path):
    output = tmp_path / "attack_cost.json"
    result = run_module("benchmarks.attack_cost", "--figures=e", "--model=small_cnn",
                        "--width=0.25", "--batch=8", "--image_size=8", "--repeats=1",
                        "--saa_iterations=2", "--saa_queries=2", f"--output={output}")
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(output.read_text())
    assert "c_saa_images_per_second" not in figures and "(a) iteration" not in result.stdout
    stage_cost = figures["e_stage_cost"]
    assert sorted(stage_cost["by_k"], key=int) == ["3", "10", "20"]
    assert stage_cost["by_k"]["3"]["spgd_unproj"]["ratio"] > 0
    assert stage_cost["by_k"]["3"]["spgd_unproj"]["ratio_uncompacted"] > 0
    assert "k10_over_k3_seconds" in stage_cost and "(e) stage cost" in result.stdout
    assert "k10_over_k3_seconds_uncompacted" in stage_cost
    unprojected = stage_cost["by_k"]["3"]["spgd_unproj"]
    factors = unprojected["factors"]
    assert np.prod(list(factors.values())) == pytest.approx(unprojected["ratio"])
    assert "small batch x padding x attack's own work" in result.stdout


def test_active_counts_follow_each_images_passes():
    assert stage_cost.active_counts([3, 1, 0, 3]) == [3, 2, 2]
    assert stage_cost.active_counts([]) == []


def test_the_working_batch_shrinks_as_soon_as_a_smaller_bucket_holds_its_active_rows():
    assert stage_cost.working_sizes([6, 3, 2, 2], 6) == [6, 3, 2, 2]
    assert stage_cost.working_sizes([207, 150, 104, 103, 40], 207) == [207, 192, 128, 128, 48]
    assert stage_cost.working_sizes([5, 5, 1], 5) == [5, 5, 1]


def test_the_factors_multiply_to_the_cost_ratio():
    passes = np.array([4, 4, 4, 4, 4, 1])
    counts = stage_cost.active_counts(passes)
    pass_seconds = {1: 0.5, 2: 0.6, 4: 0.8, 6: 1.0}
    factors = stage_cost.cost_factors(counts, stage_cost.working_sizes(counts, len(passes)),
                                      seconds=3.0, per_image=1.0 / 6, pass_seconds=pass_seconds)
    ratio = 3.0 / (passes.sum() * (1.0 / 6))
    assert np.prod(list(factors.values())) == pytest.approx(ratio)
    # Passes at 6, 5, 5, 5 active rows; the bucket of 5 is 6, so the working batch stays at 6.
    assert factors["padding"] == pytest.approx((4 * 1.0) / (1.0 + 3 * 0.9))
    assert factors["small_batch"] == pytest.approx((1.0 + 3 * 0.9) / (21 / 6))
