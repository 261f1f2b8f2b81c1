"""benchmarks.seed_analyses: the analyses of each seed's pair, side by side over seeds."""

import json
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import seed_analyses

pytestmark = pytest.mark.slow  # the slow selection (pytest.ini)

ALPHAS = [f"{a:.1f}" for a in np.linspace(0, 1, 11)]


def _sorted_json(payload):
    return json.dumps(payload, sort_keys=True)  # as tf_fastls0.analyze writes its files


def _write_seed(folder, top_eigenvalues, overlaps, norms, dips, with_locations=True):
    """One analyze output: per method its top-3 eigenvalues, overlap, gradient norms, and an
    interpolation curve that dips to ``dip`` at a = 0.5."""
    folder.mkdir()
    methods = list(top_eigenvalues)
    (folder / "analysis_config.json").write_text(json.dumps({"labels": methods}))
    (folder / "hessian.json").write_text(_sorted_json({"models": {
        m: {"eigenvalues": [top_eigenvalues[m], top_eigenvalues[m] / 2, top_eigenvalues[m] / 4]}
        for m in methods}}))
    (folder / "gradient_norm.json").write_text(_sorted_json({"models": {
        m: {"steps": [10, 20, 30, 40], "gradient_norm": norms[m]} for m in methods}}))
    if with_locations:
        (folder / "locations.json").write_text(_sorted_json({"models": {
            m: {"mean_overlap_rate": overlaps[m], "mean_normalised_l0_distance": 1 - overlaps[m]}
            for m in methods}}))
    (folder / "interpolation.json").write_text(_sorted_json({"models": {
        m: {"accuracy_by_alpha": {a: (dips[m] if a == "0.5" else 0.6) for a in ALPHAS},
            "saa_robust_accuracy": 0.1} for m in methods}}))


def test_reports_each_figure_per_seed_with_mean_sd_and_the_paired_direction(tmp_path):
    sat_top, fls_top = [90.0, 120.0, 60.0], [30.0, 20.0, 70.0]
    for seed in range(3):
        _write_seed(tmp_path / f"s{seed}",
                    {"sat_1step": sat_top[seed], "fast_ls_l0_t": fls_top[seed]},
                    {"sat_1step": 0.2, "fast_ls_l0_t": 0.5 + 0.1 * seed},
                    {"sat_1step": [1.0, 8.0, 1.0, 1.0], "fast_ls_l0_t": [1.0, 1.2, 1.0, 1.0]},
                    {"sat_1step": 0.1, "fast_ls_l0_t": 0.5})
    (tmp_path / "analyses.md").write_text("stale")

    summary, methods = seed_analyses.write_seed_analyses(str(tmp_path), "claim")

    assert methods == ["sat_1step", "fast_ls_l0_t"]
    top = summary["top Hessian eigenvalue"]
    assert top["methods"]["sat_1step"]["per_seed"] == dict(enumerate(sat_top))
    assert np.isclose(top["methods"]["fast_ls_l0_t"]["sd"], np.std(fls_top, ddof=1))
    assert (top["first_above_second"], top["paired_seeds"]) == (2, 3)
    assert np.isclose(summary["3rd Hessian eigenvalue"]["methods"]["sat_1step"]["mean"],
                      np.mean(sat_top) / 4)
    spikes = summary["gradient norm, max / median (spikes)"]["methods"]
    assert np.isclose(spikes["sat_1step"]["mean"], 8.0)
    assert summary["lowest accuracy along the segment (%)"]["methods"]["sat_1step"]["mean"] == \
        pytest.approx(10.0)
    assert summary["overlap rate, 1-step sPGD vs sAA pixels"]["first_above_second"] == 0
    table = (tmp_path / "analyses.md").read_text()
    assert "| top Hessian eigenvalue | 90 ± 30 (90, 120, 60) |" in table
    assert "2 of 3 seeds" in table
    assert (tmp_path / "analyses.png").stat().st_size > 0
    assert json.loads((tmp_path / "analyses.json").read_text())["seeds"] == [0, 1, 2]


def test_a_seed_without_an_analysis_leaves_only_that_figure_short(tmp_path):
    _write_seed(tmp_path / "s0", {"a": 2.0, "b": 1.0}, {"a": 0.3, "b": 0.4},
                {"a": [1.0] * 4, "b": [1.0] * 4}, {"a": 0.5, "b": 0.5})
    _write_seed(tmp_path / "s1", {"a": 3.0, "b": 1.0}, None,
                {"a": [1.0] * 4, "b": [1.0] * 4}, {"a": 0.5, "b": 0.5}, with_locations=False)
    (tmp_path / "notes").mkdir()  # not a seed folder

    summary, _ = seed_analyses.write_seed_analyses(str(tmp_path))

    assert summary["top Hessian eigenvalue"]["methods"]["a"]["n"] == 2
    overlap = summary["overlap rate, 1-step sPGD vs sAA pixels"]
    assert overlap["methods"]["a"] == {"per_seed": {0: 0.3}, "mean": 0.3, "sd": None, "n": 1}
    assert "0.3 (n=1)" in (tmp_path / "analyses.md").read_text()


def test_a_folder_without_seed_analyses_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no s<seed> analysis folders"):
        seed_analyses.write_seed_analyses(str(tmp_path))


def test_seed_table_writes_the_analyses_when_its_results_have_them(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"rows": [
        {"run": "a_s0", "label": "a_s0", "saa": 10.0, "clean": 40.0}]}))
    (tmp_path / "analysis").mkdir()
    _write_seed(tmp_path / "analysis" / "s0", {"a": 2.0, "b": 1.0}, {"a": 0.3, "b": 0.4},
                {"a": [1.0] * 4, "b": [1.0] * 4}, {"a": 0.5, "b": 0.5})

    subprocess.run([sys.executable, "-m", "benchmarks.seed_table", f"--results={tmp_path}"],
                   check=True, capture_output=True)

    assert "| top Hessian eigenvalue | 2 (n=1) | 1 (n=1) | 1 of 1 seeds |" in \
        (tmp_path / "analysis" / "analyses.md").read_text()
    assert (tmp_path / "seeds.md").exists()
