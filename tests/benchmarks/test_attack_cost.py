"""``python -m benchmarks.attack_cost`` on a tiny model: every figure is written and printed."""

import json

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
