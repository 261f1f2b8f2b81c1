"""``python -m tf_fastls0.analyze`` as a user runs it, on a tiny model the trainer exported."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.analysis import tensorboard_logs

TINY_BUDGETS = ["--n_examples=16", "--batch_size=16", "--top_k=2", "--hessian_max_iterations=5",
                "--grid_size=3", "--grid_range=0.5", "--iterations=5", "--queries=10",
                "--multistep_iterations=3"]
FILES = ["analysis_config.json", "gradient_norm.json", "gradient_norm.png", "hessian.json",
         "hessian_spectrum.png", "landscape.json", "landscape_keras.png", "landscape_keras.npz",
         "landscape_served.png", "landscape_served.npz", "locations.json", "locations.png",
         "interpolation.json", "interpolation.png", "interpolation.md", "gradient_distance.json",
         "gradient_distance.png"]
IMAGE_TAGS = {"gradient_norm/curves", "hessian/spectrum", "landscape/keras", "landscape/served",
              "locations/histograms", "interpolation/accuracy", "gradient_distance/histogram"}


@pytest.fixture(scope="module")
def analysed(tiny_run, tmp_path_factory, run_module):
    """Every analysis on the run folder (its .keras file) and its SavedModel, as two models."""
    output_dir = tmp_path_factory.mktemp("analysis")
    result = run_module("tf_fastls0.analyze", f"--model={tiny_run},{tiny_run / 'saved_model'}",
                        "--labels=keras,served", "--analysis=all", "--reattack", *TINY_BUDGETS,
                        f"--output_dir={output_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    return output_dir, result.stdout


def read_json(output_dir, name):
    return json.loads((output_dir / name).read_text())


@pytest.mark.slow
def test_every_output_file_is_written(analysed):
    output_dir, stdout = analysed
    missing = [name for name in FILES if not (output_dir / name).is_file()]
    assert not missing
    assert not list(output_dir.glob("*.tmp-*"))
    assert f"outputs in {output_dir}" in stdout


@pytest.mark.slow
def test_hessian_and_landscape_agree_between_the_two_formats(analysed):
    output_dir, _ = analysed
    hessian = read_json(output_dir, "hessian.json")["models"]
    for label in ("keras", "served"):
        assert len(hessian[label]["eigenvalues"]) == 2
        assert hessian[label]["objective"]["name"] == "sparse_at"  # --loss=auto: the run's
    grids = {label: np.load(output_dir / f"landscape_{label}.npz") for label in ("keras", "served")}
    for grid in grids.values():
        assert grid["losses"].shape == (3, 3)
        np.testing.assert_allclose(grid["alphas"], [-0.5, 0.0, 0.5])
    # The same weights and the same recomputed examples at the centre: the same loss.
    assert grids["keras"]["losses"][1, 1] == pytest.approx(grids["served"]["losses"][1, 1], rel=1e-4)
    title = read_json(output_dir, "landscape.json")["models"]["keras"]["title"]
    assert "recomputed at each point" in title


@pytest.mark.slow
def test_interpolation_table_locations_and_gradient_distance(analysed):
    output_dir, stdout = analysed
    interpolation = read_json(output_dir, "interpolation.json")
    by_alpha = interpolation["models"]["keras"]["accuracy_by_alpha"]
    assert sorted(by_alpha) == [f"{a / 10:.1f}" for a in range(11)]
    assert by_alpha == interpolation["models"]["served"]["accuracy_by_alpha"]
    robust = interpolation["models"]["keras"]["saa_robust_accuracy"]
    assert 0.0 <= robust <= by_alpha["0.0"]  # sAA cannot beat clean accuracy
    assert interpolation["table"] in stdout and "| sAA |" in interpolation["table"]
    locations = read_json(output_dir, "locations.json")["models"]["keras"]
    assert locations["images_counted"] <= locations["images_broken_by_saa"] <= 16
    if locations["images_counted"]:
        # Per image 1 - |A xor B| / (|A| + |B|) = 2|A and B| / (|A| + |B|) >= |A and B| / max.
        distance, overlap = locations["mean_normalised_l0_distance"], locations["mean_overlap_rate"]
        assert 0.0 <= overlap <= 1.0 - distance + 1e-9
    distance = read_json(output_dir, "gradient_distance.json")["models"]["keras"]
    assert distance["examples"] == 16 and distance["mean"] >= 0.0


@pytest.mark.slow
def test_gradient_norm_curve_is_the_logged_one(analysed, tiny_run):
    output_dir, _ = analysed
    logged = tensorboard_logs.gradient_norm_curve(str(tiny_run))
    curves = read_json(output_dir, "gradient_norm.json")["models"]
    assert curves["keras"]["steps"] == logged.steps.tolist() == list(range(2, 17, 2))
    assert len(curves["keras"]["robust_accuracy_by_epoch"]) == 2


@pytest.mark.slow
def test_figures_are_in_tensorboard(analysed):
    output_dir, _ = analysed
    tags = set()
    for path in tensorboard_logs.event_files(str(output_dir / "tensorboard")):
        for record in tf.data.TFRecordDataset(path):
            tags.update(value.tag for value in tf.compat.v1.Event.FromString(
                record.numpy()).summary.value)
    assert IMAGE_TAGS <= tags and "interpolation/table" in tags


def test_a_missing_model_is_named_in_one_line(tmp_path):
    from tf_fastls0.analysis.config import AnalysisConfig
    from tf_fastls0.analysis.runner import run_analyses
    from tf_fastls0.models.loading import ModelError

    with pytest.raises(ModelError, match="--model /nonexistent/run: no such file or folder"):
        run_analyses(AnalysisConfig(model=("/nonexistent/run",), output_dir=str(tmp_path)))


def test_an_even_grid_is_refused_before_any_model_is_read():
    from tf_fastls0.analysis.config import AnalysisConfig
    from tf_fastls0.utils.cli import UsageError

    with pytest.raises(UsageError, match="--grid_size=4 must be odd"):
        AnalysisConfig(model=("/nonexistent/run",), grid_size=4)
