"""Every trainer flagfile parses and passes the checks with only current names (no deprecated
flag or value), starts with its command, and trains what its table says."""

import glob
import pathlib
import warnings

import pytest
from absl import flags

from tf_fastls0.training.config import TrainConfig
from tf_fastls0.utils import settings

REPO = pathlib.Path(__file__).resolve().parents[1]


def parse(flagfile, *extra):
    """The flagfile's config; an old flag or value name in it fails (its DeprecationWarning)."""
    flag_values = flags.FlagValues()
    settings.define_flags(TrainConfig, flag_values=flag_values)
    flag_values(["train", f"--flagfile={flagfile}", *extra])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        return settings.from_flags(TrainConfig, flag_values)


def trainer_flagfiles():
    return sorted(f"configs/{path.name}" for path in (REPO / "configs").glob("*.flags")
                  if not path.name.startswith("eval_"))


@pytest.mark.parametrize("path", trainer_flagfiles())
def test_every_trainer_flagfile_parses_passes_the_checks_and_names_its_run_folder(
        repo, monkeypatch, path):
    monkeypatch.chdir(repo)
    assert parse(path).output_dir == f"runs/{pathlib.Path(path).stem}"


@pytest.mark.parametrize("path", ["configs/cifar10_fast_ls_l0_t.flags",
                                  "configs/cifar10_sparse_at_20step_sn.flags"])
def test_paper_flagfiles_train_at_six_times_the_evaluation_budget(repo, monkeypatch, path):
    monkeypatch.chdir(repo)
    config = parse(path)
    assert (config.train_eps, config.eval_eps) == (120, 20)
    assert parse(path, "--eval_eps=10", "--train_eps=60").train_eps == 60


def test_every_flagfile_starts_with_the_command_that_runs_it(repo):
    for path in sorted(glob.glob(str(repo / "configs" / "*.flags"))):
        first_line = open(path).read().splitlines()[0]
        name = path[len(str(repo)) + 1:]
        assert first_line.startswith("# python -m tf_fastls0.") and name in first_line, path


@pytest.mark.parametrize("method", ["mart", "label_smoothing", "nuat", "advlc", "grad_align",
                                    "atta", "n_aaer", "n_lap", "fast_bat"])
def test_table6_flagfiles_train_their_method_with_the_one_step_attack(repo, monkeypatch, method):
    monkeypatch.chdir(repo)
    config = parse(f"configs/cifar10_{method}.flags")
    assert (config.method, config.attack_iterations, config.train_eps) == (method, 1, 120)


@pytest.mark.parametrize("model, learning_rate, weight_decay, warmup_epochs", [
    ("convnext_tiny", 1e-3, 0.05, 30),  # filipbasara0/simple-convnext
    ("swin_tiny", 1e-4, 0.0, 0),  # kentaroy47/vision-transformers-cifar10: Adam, no decay
])
def test_table10_flagfiles_train_their_method_with_their_cifar10_implementation_s_optimiser(
        repo, monkeypatch, model, learning_rate, weight_decay, warmup_epochs):
    monkeypatch.chdir(repo)
    for run, method in (("sparse_at_1step", "sparse_at"), ("strades_1step", "strades"),
                        ("fast_ls_l0_t", "fast_ls_l0")):
        config = parse(f"configs/cifar10_{model}_{run}.flags")
        assert (config.model, config.method, config.attack_iterations, config.train_eps,
                config.epochs, config.batch_size) == (model, method, 1, 120, 100, 128), run
        assert (config.optimizer, config.lr_schedule, config.learning_rate, config.weight_decay,
                config.warmup_epochs) == ("adamw", "cosine", learning_rate, weight_decay,
                                          warmup_epochs), run
        assert config.output_dir == f"runs/cifar10_{model}_{run}"


def test_the_awp_flagfile_adds_awp_to_fast_ls_l0_as_the_trades_reference(repo, monkeypatch):
    monkeypatch.chdir(repo)
    config = parse("configs/cifar10_fast_ls_l0_awp.flags")
    assert (config.method, config.attack_iterations, config.train_eps) == ("fast_ls_l0", 1, 120)
    assert (config.awp.enabled, config.awp.gamma, config.awp.warmup_epochs) == (True, 0.005, 9)


def test_flc_pool_flagfile_trains_the_flc_network_with_one_step_sparse_at(repo, monkeypatch):
    monkeypatch.chdir(repo)
    config = parse("configs/cifar10_flc_pool.flags")
    assert (config.model, config.method, config.attack_iterations, config.train_eps) == (
        "preact_resnet18_flc", "sparse_at", 1, 120)
