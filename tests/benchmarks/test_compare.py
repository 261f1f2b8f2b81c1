"""``python -m benchmarks.compare`` end to end on the smoke table (2 methods, 1 epoch, small_cnn
x0.25, 128 CIFAR-10 images, a tiny sAA): the table, CSV and plot, and resuming after a stop
between runs without retraining the finished run."""

import csv
import json
import subprocess

import matplotlib.image
import pytest

SMOKE = "benchmarks/configs/smoke.flags"


@pytest.fixture(scope="module")
def compared(tmp_path_factory, run_module, cifar10_dir):
    out = tmp_path_factory.mktemp("compare")
    args = [f"--flagfile={SMOKE}", f"--output_dir={out}", f"--runs_dir={out / 'runs'}"]
    first = run_module("benchmarks.compare", *args, "--stop_after_runs=1")
    summary = out / "runs" / "fast_ls_l0_t" / "summary.json"
    stamp = summary.stat().st_mtime_ns if summary.exists() else None
    second_trained = (out / "runs" / "sat_20step" / "summary.json").exists()
    second = run_module("benchmarks.compare", *args)
    return out, first, second, (stamp, second_trained)


@pytest.mark.slow
def test_a_stopped_table_exits_75_with_only_the_first_run_done(compared):
    _, first, _, (stamp, second_trained) = compared
    assert first.returncode == 75, first.stdout + first.stderr
    assert stamp is not None and not second_trained
    assert "stopping before sat_20step" in first.stdout


@pytest.mark.slow
def test_the_second_invocation_resumes_without_retraining(compared):
    out, _, second, (stamp, _) = compared
    assert second.returncode == 0, second.stdout + second.stderr
    assert "fast_ls_l0_t: finished already" in second.stdout
    assert "sat_20step: training" in second.stdout
    assert "fast_ls_l0_t: training" not in second.stdout
    assert (out / "runs" / "fast_ls_l0_t" / "summary.json").stat().st_mtime_ns == stamp
    invocations = json.loads((out / "runs" / "fast_ls_l0_t" / "harness.json").read_text())
    assert len(invocations["invocations"]["train"]) == 1


def _reports(out):
    return {name: json.loads(next((out / "runs" / name).glob("eval_*/report.json")).read_text())
            for name in ("fast_ls_l0_t", "sat_20step")}


@pytest.mark.slow
def test_every_run_is_evaluated_on_the_same_images_with_the_same_budget(compared):
    reports = _reports(compared[0])
    first, second = reports.values()
    assert first["images"]["indices"] == second["images"]["indices"]
    assert len(first["images"]["indices"]) == 32
    for key in ("eps", "iterations", "queries", "seed", "attacks"):
        assert first["settings"][key] == second["settings"][key]


@pytest.mark.slow
def test_csv_rows_carry_the_evaluation_figures_and_the_paper_s(compared):
    out = compared[0]
    reports = _reports(out)
    rows = {row["run"]: row for row in csv.DictReader((out / "table.csv").open())}
    assert set(rows) == {"fast_ls_l0_t", "sat_20step"}
    for name, row in rows.items():
        assert row["status"] == "finished"
        assert float(row["clean"]) == pytest.approx(reports[name]["clean_acc"])
        assert float(row["saa"]) == pytest.approx(reports[name]["attacks"]["saa"]["robust_acc"])
        stages = reports[name]["attacks"]["saa"]["stages"]
        assert float(row["saa_after_spgd_unproj"]) == pytest.approx(
            stages["spgd_unproj"]["robust_acc"])
        assert float(row["saa_after_spgd_unproj"]) >= float(row["saa"])
        assert float(row["train_seconds"]) > 0 and float(row["epoch_seconds"]) > 0
        # The evaluation's wall time as the harness timed it, counted once.
        ledger = json.loads((out / "runs" / name / "harness.json").read_text())
        (evaluation,) = [pieces for kind, pieces in ledger["invocations"].items()
                         if kind.startswith("eval_")]
        assert float(row["eval_seconds"]) == pytest.approx(evaluation[0]["seconds"], rel=1e-4)
        assert int(row["epochs"]) == 1 and int(row["train_examples"]) == 128
        summary = json.loads((out / "runs" / name / "summary.json").read_text())
        assert float(row["train_attack_accuracy"]) == pytest.approx(
            100 * summary["final_metrics"]["adversarial_accuracy"])
        # One epoch of robust validation on 16 images: best = last, a multiple of 1/16.
        assert row["val_robust_best"] == row["val_robust_last"]
        assert (float(row["val_robust_last"]) * 16 / 100) == pytest.approx(
            round(float(row["val_robust_last"]) * 16 / 100))
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    for row in rows.values():  # the code that trained and evaluated each run
        assert row["train_commit"].removesuffix("-dirty") == head
        assert row["eval_commit"].removesuffix("-dirty") == head
    assert float(rows["fast_ls_l0_t"]["paper_saa"]) == 63.0  # SPEC §7, Table 4a
    assert float(rows["sat_20step"]["paper_clean"]) == 84.5


@pytest.mark.slow
def test_markdown_table_and_plot_are_written(compared):
    out = compared[0]
    page = (out / "table.md").read_text()
    assert "| Fast-LS-l0 (T) | finished |" in page and "| sAT, 20-step | finished |" in page
    assert "paper sAA %" in page and "5 sPGD iterations per stage" in page
    for name in ("robust_vs_time.png", "robust_by_epoch.png"):
        image = matplotlib.image.imread(out / name)
        assert image.ndim == 3 and image.shape[0] > 100
    assert "val robust: last %" in page
    results = json.loads((out / "results.json").read_text())
    assert [row["run"] for row in results["rows"]] == ["fast_ls_l0_t", "sat_20step"]
    for row in results["rows"]:
        assert len(row["val_robust_by_epoch"]) == len(row["val_clean_by_epoch"]) == 1
        assert len(row["train_attack_by_epoch"]) == 1
        assert all(0 <= row[key][0] <= 100 for key in ("val_robust_by_epoch",
                                                        "val_clean_by_epoch",
                                                        "train_attack_by_epoch"))
    assert results["budget"]["n_examples"] == 32


@pytest.mark.slow
def test_a_failing_run_is_reported_and_the_table_still_written(tmp_path, run_module):
    # settings that parse (see the next test for those that do not) but cannot run
    result = run_module("benchmarks.compare", f"--output_dir={tmp_path}",
                        "--run=broken=configs/quickstart.flags:--data_dir=/no/such/folder")
    assert result.returncode == 1
    assert "broken: training failed" in result.stdout and "does not exist" in result.stdout
    rows = list(csv.DictReader((tmp_path / "table.csv").open()))
    assert [(row["run"], row["status"]) for row in rows] == [("broken", "failed")]


def test_a_row_with_refused_flags_stops_the_table_before_any_row_runs(tmp_path, run_module):
    """The bad row is last: it stops the table before the first row trains."""
    output_dir = tmp_path / "table"
    result = run_module("benchmarks.compare", f"--output_dir={output_dir}",
                        "--run=good=configs/quickstart.flags",
                        "--run=bad=configs/quickstart.flags:--method=no_such_method")
    assert result.returncode == 2, result.stdout + result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and errors[0].startswith(
        "error: run bad: the trainer refuses its flags: flag --method=no_such_method: value "
        "should be one of"), result.stderr[-2000:]
    assert not output_dir.exists()  # no row trained, no table written


def test_every_row_s_trainer_and_evaluator_settings_are_checked_up_front(tmp_path):
    from benchmarks.harness.specs import EvalBudget, RunSpec, check_rows
    from tf_fastls0.utils.cli import UsageError

    flagfile = tmp_path / "bad.flags"
    flagfile.write_text("--flagfile=configs/quickstart.flags\n--epochs=0\n")
    looping = tmp_path / "loop.flags"
    looping.write_text(f"--flagfile={looping}\n")
    good = RunSpec("good", "configs/quickstart.flags")
    budget = EvalBudget(attacks=("saa", "cornersearch"))
    check_rows([good], str(tmp_path), (), budget, ())  # a good row passes
    for row, train_flags, eval_flags, message in [
            (RunSpec("bad", str(flagfile)), (), (),
             "run bad: the trainer refuses its flags: flag --epochs=0: must be at least 1"),
            (RunSpec("bad", "configs/quickstart.flags", ("--no_such_flag=1",)), (), (),
             "run bad: the trainer refuses its flags: unknown flag --no_such_flag=1"),
            (RunSpec("bad", str(looping)), (), (), "run bad: the trainer refuses its flags: "
             f"--flagfile={looping} includes itself"),
            (good, ("--awp_enabled", "--method=sparse_at", "--awp_warmup_epochs=99"), (),
             "run good: the trainer refuses its flags: --awp_warmup_epochs=99 must be smaller"),
            (good, (), ("--threat=groups",),
             "run good: the evaluator refuses its flags: --threat=groups needs --group_map")]:
        with pytest.raises(UsageError) as refused:
            check_rows([good, row], str(tmp_path), train_flags, budget, eval_flags)
        assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_the_old_budget_flags_still_work_and_warn(tmp_path, run_module):
    result = run_module("benchmarks.compare", f"--output_dir={tmp_path}", "--dry_run",
                        "--run=row=configs/quickstart.flags", "--iters=7", "--rs_queries=9")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "DeprecationWarning: --iters is deprecated: use --iterations" in result.stderr
    assert "DeprecationWarning: --rs_queries is deprecated: use --queries" in result.stderr
    assert "--iterations=7" in result.stdout and "--queries=9" in result.stdout
