"""Run specs, the evaluation budget, the ledger's time accounting and the table configs."""

import pathlib
import re

import pytest

from benchmarks import paper_results
from benchmarks.harness import ledger
from benchmarks.harness.specs import (EvalBudget, RunSpec, as_flags, parse_run, parse_runs,
                                      trainer_argv)
from tf_fastls0.utils.cli import UsageError

REPO = pathlib.Path(__file__).resolve().parents[2]
CONFIGS = REPO / "benchmarks" / "configs"


def test_parse_run_splits_name_flagfile_and_overrides():
    spec = parse_run("sparse_at_1step=configs/cifar10_sparse_at_20step.flags:"
                     "--attack_iterations=1; nfgsm_noise")
    assert spec == RunSpec("sparse_at_1step", "configs/cifar10_sparse_at_20step.flags",
                           ("--attack_iterations=1", "--nfgsm_noise"))
    assert parse_run("plain=a.flags") == RunSpec("plain", "a.flags", ())


@pytest.mark.parametrize("text", ["no_flagfile", "=a.flags", "bad name=a.flags", "x=",
                                  "x=:--epochs=1"])
def test_parse_run_refuses_malformed(text):
    with pytest.raises(UsageError):
        parse_run(text)


def test_parse_runs_refuses_repeated_names_and_missing_flagfiles(tmp_path):
    flagfile = tmp_path / "a.flags"
    flagfile.write_text("--epochs=1\n")
    with pytest.raises(UsageError, match="repeated: a"):
        parse_runs([f"a={flagfile}", f"a={flagfile}:--epochs=2"])
    with pytest.raises(UsageError, match="not found"):
        parse_runs([f"a={tmp_path / 'missing.flags'}"])


def test_trainer_flags_in_precedence_order():
    spec = RunSpec("r", "f.flags", ("--epochs=3",))
    argv = trainer_argv(spec, "runs", as_flags(["epochs=1", "--width=0.5"]))
    assert argv[0] == "--flagfile=f.flags"
    # absl lets the last value win: the run's override after the table's, the harness's last.
    assert argv.index("--epochs=1") < argv.index("--epochs=3")
    assert argv[-2:] == ["--output_dir=runs/r", "--final_eval=none"]


def test_budget_matches_only_a_complete_report_at_that_budget():
    budget = EvalBudget(eps=20, attacks=("saa",), iterations=100, queries=300, n_examples=500)
    settings = {"eps": 20, "attacks": ["saa"], "iterations": 100, "queries": 300,
                "n_examples_requested": 500, "seed": 0}
    assert budget.matches({"complete": True, "settings": settings})
    assert not budget.matches({"complete": False, "settings": settings})
    assert not budget.matches({"complete": True, "settings": {**settings, "iterations": 50}})
    assert budget.folder_name != EvalBudget(iterations=50).folder_name


def test_ledger_counts_pieces_until_the_first_success(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    for seconds, code in ((10.0, None), (5.0, 0), (2.0, 0)):  # stopped, finished, no-op rerun
        ledger.record(str(tmp_path), "train", _Outcome(code, seconds), ["--x"])
    assert ledger.invocation_seconds(ledger.read_ledger(str(tmp_path)), "train") == 15.0
    assert ledger.read_ledger(str(tmp_path))["train_argv"] == ["--x"]


def test_ledger_names_the_commits_of_the_pieces_that_did_the_work():
    pieces = [{"seconds": 1.0, "returncode": None, "commit": "aaa"},
              {"seconds": 1.0, "returncode": 0, "commit": "bbb-dirty"},
              {"seconds": 1.0, "returncode": 0, "commit": "ccc"}]  # a no-op rerun: not counted
    assert ledger.invocation_commits({"invocations": {"train": pieces}}, "train") == "aaa+bbb-dirty"
    older = [{"seconds": 1.0, "returncode": 0}]  # written before commits were recorded
    assert ledger.invocation_commits({"invocations": {"train": older}}, "train") is None


def test_ledger_is_not_written_outside_a_run_folder(tmp_path):
    ledger.record(str(tmp_path), "train", _Outcome(0, 1.0))
    assert ledger.read_ledger(str(tmp_path)) == {}


class _Outcome:
    def __init__(self, returncode, seconds):
        self.returncode, self.seconds = returncode, seconds


def _expanded(path):
    """A flagfile's lines with nested --flagfile= lines expanded (paths from the repo root)."""
    lines = []
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("--flagfile="):
            lines += _expanded(REPO / line.split("=", 1)[1])
        elif line and not line.startswith("#"):
            lines.append(line)
    return lines


def _table_configs():
    return sorted(CONFIGS.glob("table*_*.flags"))


def test_every_table_has_a_cpu_and_a_paper_config_with_the_same_runs():
    tables = {re.sub(r"_(cpu|paper)$", "", path.stem) for path in _table_configs()}
    assert tables == {"table1", "table3", "table4a", "table4b", "table6", "table7", "table8",
                      "table10", "table11", "table12", "table13", "table14"}
    for name in tables:
        runs = [[line.split("=")[1] for line in _expanded(CONFIGS / f"{name}_{scale}.flags")
                 if line.startswith("--run=")] for scale in ("cpu", "paper")]
        assert runs[0] == runs[1], name


@pytest.mark.parametrize("path", _table_configs(), ids=lambda p: p.stem)
def test_table_configs_start_with_their_command_and_name_known_rows(path):
    assert path.read_text().startswith(
        f"# python -m benchmarks.compare --flagfile=benchmarks/configs/{path.name}\n")
    lines = _expanded(path)
    table = [line.split("=", 1)[1] for line in lines if line.startswith("--table=")][-1]
    specs = parse_runs([line.split("=", 1)[1] for line in lines if line.startswith("--run=")])
    # every figure of the paper's table has a row, and every row has the paper's figure except
    # in Tables 7 and 8, of which SPEC gives one row (the others run for our own columns), and
    # Tables 4b and 10, of which it gives none (their rows are listed with their labels only)
    names = sorted(spec.name for spec in specs)
    if table in ("table7", "table8"):
        assert set(paper_results.TABLES[table]) < set(names)
    else:
        assert names == sorted(paper_results.TABLES[table])
    rows = paper_results.TABLES[table].values()
    with_figures = [row for row in rows if any(getattr(row, f) is not None
                                                for f in paper_results.FIGURES)]
    assert (with_figures == []) == (table in ("table4b", "table10")), table
    for spec in specs:
        assert (REPO / spec.flagfile).is_file()


@pytest.mark.slow
def test_the_overfitting_config_trains_its_runs_longer_with_a_larger_network(run_module, tmp_path):
    result = run_module("benchmarks.compare", "--flagfile=benchmarks/configs/co_cpu.flags",
                        f"--runs_dir={tmp_path}", "--dry_run")
    assert result.returncode == 0, result.stderr[-2000:]
    trainers = [line for line in result.stdout.splitlines()
                if line.startswith("python -m tf_fastls0.train")]
    assert len(trainers) == 2 and "# sat_1step (needs work)" in result.stdout
    for command in trainers:
        assert "--model=preact_resnet18" in command and "--epochs=20" in command
    specs = parse_runs([line.split("=", 1)[1] for line in _expanded(CONFIGS / "co_cpu.flags")
                        if line.startswith("--run=")])
    assert {spec.name for spec in specs} <= set(paper_results.TABLES["table3"])


def test_cornersearch_is_evaluated_apart_on_the_first_images_it_is_given():
    budget = EvalBudget(attacks=("saa", "cornersearch"), n_examples=500,
                        fewer_images=(("cornersearch", 100),))
    common, corner = budget.parts()
    assert common.attacks == ("saa",) and common.n_examples == 500
    assert corner.attacks == ("cornersearch",) and corner.n_examples == 100
    assert EvalBudget(attacks=("cornersearch",), n_examples=50).parts()[0].n_examples == 50


@pytest.mark.parametrize("path", _table_configs(), ids=lambda p: p.stem)
def test_every_run_of_a_table_config_is_a_training_the_trainer_accepts(path, monkeypatch):
    from absl import flags

    from tf_fastls0.training.config import TrainConfig
    from tf_fastls0.utils import settings

    monkeypatch.chdir(REPO)  # flagfiles name their includes from the repository root
    lines = _expanded(path)
    train_flags = as_flags([line.split("=", 1)[1] for line in lines
                            if line.startswith("--train_flag=")])
    for spec in parse_runs([line.split("=", 1)[1] for line in lines if line.startswith("--run=")]):
        flag_values = flags.FlagValues()
        settings.define_flags(TrainConfig, flag_values=flag_values)
        flag_values(["train", *trainer_argv(spec, "runs", train_flags)])
        settings.from_flags(TrainConfig, flag_values)  # raises the trainer's refusal, if any
