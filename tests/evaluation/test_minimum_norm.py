"""``--attacks=sigma_zero``: robust accuracy at every k in ``report.json`` and ``robust_vs_k.png``,
kept across a resumed run."""

import numpy as np

from tf_fastls0.attacks import STAGE_CODES, SURVIVED
from tf_fastls0.evaluation import EvalConfig, comparable, evaluate_model, merge_reports
from tf_fastls0.evaluation.robust_curve import ROBUST_VS_K_FILE

SETTINGS = {"eps": 3, "attacks": "sigma_zero,rs", "iterations": 30, "queries": 10,
            "n_examples": 16, "batch_size": 8, "seed": 1, "progress": False}


def _evaluate(run, splits, output_dir, **overrides):
    config = EvalConfig(model=str(run / "saved_model"), output_dir=str(output_dir),
                        **{**SETTINGS, **overrides})
    return evaluate_model(config, splits)


def test_the_report_has_robust_accuracy_at_every_k(tiny_run, splits, tmp_path):
    report = _evaluate(tiny_run, splits, tmp_path / "whole")
    curve = report["robust_acc_by_k"]["sigma_zero"]
    values = np.array(list(curve.values()))
    assert [int(k) for k in curve] == list(range(len(curve)))
    assert np.all(np.diff(values) <= 0) and values[0] == report["clean_acc"]
    assert curve[str(SETTINGS["eps"])] == report["attacks"]["sigma_zero"]["robust_acc"]
    counts = np.array(report["images"]["min_pixels"]["sigma_zero"])
    codes = np.array(report["images"]["broken_by"]["sigma_zero"])
    assert np.any(counts >= 1)  # sigma-zero fooled some correctly classified images
    np.testing.assert_array_equal(codes == STAGE_CODES["sigma_zero"],
                                  (counts >= 1) & (counts <= SETTINGS["eps"]))
    assert np.all(codes[counts > SETTINGS["eps"]] == SURVIVED)
    assert (tmp_path / "whole" / ROBUST_VS_K_FILE).stat().st_size > 0

    _evaluate(tiny_run, splits, tmp_path / "resumed", max_batches=1)
    resumed = _evaluate(tiny_run, splits, tmp_path / "resumed", resume=True)
    assert comparable(resumed) == comparable(report)
    shards = [_evaluate(tiny_run, splits, tmp_path / f"shard{i}", shard_index=i, num_shards=2)
              for i in range(2)]
    assert comparable(merge_reports(shards)) == comparable(report)


def test_the_plot_reads_a_curve_whose_keys_sort_as_text(tmp_path, monkeypatch):
    import matplotlib.axes

    from tf_fastls0.evaluation.robust_curve import plot_robust_vs_k

    drawn = []
    original = matplotlib.axes.Axes.step
    monkeypatch.setattr(matplotlib.axes.Axes, "step", lambda self, x, y, *a, **k: (
        drawn.append(list(x)), original(self, x, y, *a, **k))[1])
    curve = {str(k): 100.0 - k for k in range(12)}
    report = {"robust_acc_by_k": {"sigma_zero": dict(sorted(curve.items()))}, "k": 5,
              "clean_acc": 100.0, "attacks": {"saa": {"robust_acc": 90.0}}}
    plot_robust_vs_k(str(tmp_path / "curve.png"), report)
    assert drawn == [list(range(12))] and (tmp_path / "curve.png").stat().st_size > 0
