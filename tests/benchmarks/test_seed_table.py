"""benchmarks.seed_table: mean and spread over seeds, the paired gap, and the band figure."""

import json

import numpy as np

from benchmarks import seed_table


def _row(run, saa=None, clean=None, robust=(), train_seconds=None):
    row = {"run": run, "label": run, "status": "done" if saa is not None else "pending",
           "val_robust_by_epoch": list(robust), "val_clean_by_epoch": [r + 20 for r in robust]}
    if robust:
        row.update(val_robust_last=robust[-1], val_robust_best=max(robust))
    if saa is not None:
        row.update(saa=saa, clean=clean, train_seconds=train_seconds)
    return row


def _write(tmp_path, rows):
    (tmp_path / "results.json").write_text(json.dumps({"rows": rows}))


def test_groups_seeds_by_method_and_reports_mean_and_sample_sd(tmp_path):
    sat, fls = [7.0, 9.5, 8.0], [27.0, 24.5, 30.0]
    rows = []
    for seed in range(3):
        rows.append(_row(f"sat_1step_s{seed}", sat[seed], 40.0 + seed, (5, 6 + seed), 600.0))
        rows.append(_row(f"fast_ls_l0_t_s{seed}", fls[seed], 50.0 - seed, (9, 20 + seed), 900.0))
    _write(tmp_path, rows)

    summary, gaps = seed_table.write_seed_table(str(tmp_path), "claim")

    assert summary["sat_1step"]["seeds"] == [0, 1, 2]
    assert np.isclose(summary["sat_1step"]["saa"]["mean"], np.mean(sat))
    assert np.isclose(summary["fast_ls_l0_t"]["saa"]["sd"], np.std(fls, ddof=1))
    assert np.isclose(summary["fast_ls_l0_t"]["train_minutes"]["mean"], 15.0)
    gap = gaps["fast_ls_l0_t - sat_1step"]
    assert np.allclose(gap["differences"], np.subtract(fls, sat))
    assert np.isclose(gap["sd"], np.std(np.subtract(fls, sat), ddof=1))
    assert np.isclose(gap["t"], gap["mean"] / (gap["sd"] / np.sqrt(3))) and gap["df"] == 2
    assert gap["beyond_spread"] is True
    table = (tmp_path / "seeds.md").read_text()
    assert f"{np.mean(fls):.1f} ± {np.std(fls, ddof=1):.1f}" in table
    assert (tmp_path / "seeds_by_epoch.png").stat().st_size > 0
    assert json.loads((tmp_path / "seeds.json").read_text())["methods"]["sat_1step"]


def test_unfinished_seeds_stay_out_of_final_figures_and_gaps(tmp_path):
    _write(tmp_path, [_row("sat_1step_s0", 8.0, 40.0, (5, 6), 60.0),
                      _row("fast_ls_l0_t_s0", 25.0, 45.0, (9, 21), 90.0),
                      _row("sat_1step_s1", robust=(4,)),
                      _row("fast_ls_l0_t_s1")])

    summary, gaps = seed_table.write_seed_table(str(tmp_path))

    assert summary["sat_1step"]["seeds"] == [0]
    assert summary["sat_1step"]["all_seeds"] == [0, 1]
    assert summary["sat_1step"]["saa"] == {"mean": 8.0, "sd": None, "n": 1}
    assert gaps["fast_ls_l0_t - sat_1step"]["differences"] == [17.0]
    assert "8.0 (n=1)" in (tmp_path / "seeds.md").read_text()


def test_a_run_without_seed_suffix_is_seed_zero():
    assert seed_table.method_and_seed("fast_ls_l0_t_s12") == ("fast_ls_l0_t", 12)
    assert seed_table.method_and_seed("sat_1step") == ("sat_1step", 0)


def test_a_gap_within_its_spread_is_said_to_be(tmp_path):
    sat, fls = [10.0, 12.0, 11.0], [14.0, 10.0, 13.0]  # differences +4, -2, +2: t = 0.76
    _write(tmp_path, [_row(f"{method}_s{seed}", values[seed], 40.0, (5,), 60.0)
                      for seed in range(3) for method, values in (("sat_1step", sat),
                                                                  ("fast_ls_l0_t", fls))])

    _, gaps = seed_table.write_seed_table(str(tmp_path))

    gap = gaps["fast_ls_l0_t - sat_1step"]
    assert gap["beyond_spread"] is False and 0 < gap["t"] < 4.303
    assert "| 0.8 (2) | no |" in (tmp_path / "seeds.md").read_text()
