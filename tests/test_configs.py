"""Every trainer flagfile parses to the config it gave before settings were defined once (apart
from the defaults that changed on purpose), passes the checks and starts with its command."""

import glob
import json

import pytest
from absl import flags

from tf_fastls0.training.config import TrainConfig
from tf_fastls0.utils import settings

# testdata/trainer_flagfile_configs.json: each flagfile's config.json as the flag-by-flag parser
# of commit 409ec6b wrote it. What changed since, on purpose: --train_eps defaults to 6x --eval_eps,
# --sync_batchnorm to "on with several replicas" (None until the strategy is known), and the
# method and soft-label names that were both "sat" now say which they mean.
# configs/quickstart.flags was rewritten on purpose (it now trains Fast-LS-l0 and evaluates it),
# so it is not among them; tests/training/test_train_cli.py checks what it trains.
# configs/imagenet100.flags trains the ImageNet ResNet-34 the paper uses (issue 12), no longer the
# CIFAR-style pre-activation one, with ImageNet's crops. Settings added since take their defaults.
RENAMED = {("method", "sat"): "sparse_at", ("soft_labels", "sat"): "self_adaptive"}
REWRITTEN = {"configs/imagenet100.flags": {"model": "resnet34", "preprocessing": "imagenet"}}


def parse(flagfile, *extra):
    flag_values = flags.FlagValues()
    settings.define_flags(TrainConfig, flag_values=flag_values)
    flag_values(["train", f"--flagfile={flagfile}", *extra])
    return settings.from_flags(TrainConfig, flag_values)


def expected_now(before):
    expected = {key: RENAMED.get((key, value), value) if isinstance(value, str) else value
                for key, value in before.items()}
    expected["sync_batchnorm"] = None
    if before["train_eps"] == 20 and before["eval_eps"] == 20:  # the flagfile did not set it
        expected["train_eps"] = 120
    defaults = TrainConfig(epochs=expected["epochs"]).to_dict()  # some defaults follow epochs
    expected = {**defaults, **expected, "data": {**defaults["data"], **before["data"]}}
    return expected


def rewritten(expected, changes):
    """``expected`` with ``changes`` (names of training or data settings) applied."""
    data = {name: value for name, value in changes.items() if name in expected["data"]}
    top = {name: value for name, value in changes.items() if name not in data}
    return {**expected, **top, "data": {**expected["data"], **data}}


def trainer_flagfiles():
    return sorted(path for path in glob.glob("configs/*.flags")
                  if not path.startswith("configs/eval_"))


def test_every_trainer_flagfile_gives_the_config_it_gave_before(repo, monkeypatch):
    monkeypatch.chdir(repo)
    before = json.loads((repo / "testdata" / "trainer_flagfile_configs.json").read_text())
    assert set(before) <= set(trainer_flagfiles())  # none was lost; newer ones have own tests
    for path, old in before.items():
        assert parse(path).to_dict() == rewritten(expected_now(old), REWRITTEN.get(path, {})), path


@pytest.mark.parametrize("path", ["configs/cifar10_fast_ls_l0_t.flags",
                                  "configs/cifar10_sat_20step_sn.flags"])
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


@pytest.mark.parametrize("method", ["mart", "label_smoothing", "nuat", "advlc", "grad_align"])
def test_table6_flagfiles_train_their_method_with_the_one_step_attack(repo, monkeypatch, method):
    monkeypatch.chdir(repo)
    config = parse(f"configs/cifar10_{method}.flags")
    assert (config.method, config.attack_steps, config.train_eps) == (method, 1, 120)


@pytest.mark.parametrize("model, learning_rate, weight_decay, warmup_epochs", [
    ("convnext_tiny", 1e-3, 0.05, 30),  # filipbasara0/simple-convnext
    ("swin_tiny", 1e-4, 0.0, 0),  # kentaroy47/vision-transformers-cifar10: Adam, no decay
])
def test_table10_flagfiles_train_their_method_with_their_cifar10_implementation_s_optimiser(
        repo, monkeypatch, model, learning_rate, weight_decay, warmup_epochs):
    monkeypatch.chdir(repo)
    for run, method in (("sat_1step", "sparse_at"), ("strades_1step", "strades"),
                        ("fast_ls_l0_t", "fast_ls_l0")):
        config = parse(f"configs/cifar10_{model}_{run}.flags")
        assert (config.model, config.method, config.attack_steps, config.train_eps,
                config.epochs, config.batch_size) == (model, method, 1, 120, 100, 128), run
        assert (config.optimizer, config.lr_schedule, config.learning_rate, config.weight_decay,
                config.warmup_epochs) == ("adamw", "cosine", learning_rate, weight_decay,
                                          warmup_epochs), run
        assert config.output_dir == f"runs/cifar10_{model}_{run}"
