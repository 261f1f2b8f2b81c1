"""Training settings as a user gives them: each flag comes from ``TrainConfig``, and a value the
run cannot use is refused before any work, in one line naming the flag."""

import dataclasses
import json

import pytest
from absl import flags

from tf_fastls0.analysis.config import AnalysisConfig
from tf_fastls0.attacks.threat_config import ThreatConfig
from tf_fastls0.data import DataError
from tf_fastls0.evaluation.config import EvalConfig
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.run import train_and_evaluate
from tf_fastls0.utils import settings
from tf_fastls0.utils.cli import UsageError

CONFIGS = (TrainConfig, EvalConfig, AnalysisConfig)


def refusal(output_dir, *argv):
    """What the trainer says when it refuses ``argv`` (flag parsing, the config's checks, or the
    checks against the data that come before any training), or None if it accepts them."""
    flag_values = flags.FlagValues()
    settings.define_flags(TrainConfig, flag_values=flag_values)
    try:
        flag_values(["train", "--epochs=1", f"--output_dir={output_dir}", *argv])
        settings.from_flags(TrainConfig, flag_values)
    except flags.Error as error:
        return str(error).splitlines()[0]
    except UsageError as error:
        return str(error)
    return None


@pytest.mark.parametrize("flag, message", [
    ("--epochs=0", "--epochs=0: must be at least 1"),
    ("--batch_size=-4", "--batch_size=-4: must be at least 1"),
    ("--model=resnet9000", "--model"),
    ("--dataset=imagenet9", "--dataset"),
    ("--width=0", "--width=0.0: must be at least 0.01"),
    ("--strategy=tpu", "--strategy"),
    ("--learning_rate=inf", "--learning_rate=inf: must be a finite number"),
    ("--momentum=-nan", "must be a finite number"),
    ("--soft_label_start_epoch=1", "--soft_label_start_epoch=1 must be smaller than --epochs=1"),
    ("--method=sparse_at --attack_iterations=0",
     "--attack_iterations=0 leaves --method=sparse_at without"),
    ("--method=fast_ls_l0 --eval_eps=0", "--train_eps=0 leaves --method=fast_ls_l0 without an"),
    ("--nfgsm_noise", "--nfgsm_noise needs an adversarial --method"),
    ("--awp_enabled", "--awp_enabled needs an adversarial --method"),
    ("--soft_labels=self_adaptive", "--soft_labels needs an adversarial --method"),
    ("--method=atta --threat=rows", "--method=atta carries pixel perturbations: --threat=rows"),
    ("--optimizer=adam", "--optimizer"),
    ("--lr_schedule=cosine --warmup_epochs=-1", "--warmup_epochs=-1: must be at least 0"),
    ("--warmup_epochs=1", "--warmup_epochs=1 needs --lr_schedule=cosine"),
    ("--lr_schedule=cosine --warmup_epochs=1", "--warmup_epochs=1 must be smaller than --epochs=1"),
    # settings that cannot take effect (issue 26)
    ("--method=sparse_at --awp_enabled --awp_warmup_epochs=1",
     "--awp_warmup_epochs=1 must be smaller than --epochs=1: AWP would never run"),
    ("--seed=4294967296", "--seed=4294967296: must be at most 4294967295"),
])
def test_values_no_run_can_use_are_refused_in_one_line(flag, message, tmp_path):
    said = refusal(tmp_path / "out", *flag.split())
    assert said is not None and message in said and "\n" not in said
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("changes, message, error", [
    ({"batch_size": 128, "data": {"max_train_examples": 100}},
     "--batch_size=128 is larger than the 100 training images", UsageError),
    ({"train_eps": 2000}, "--train_eps=2000 is more than the 1024 pixels of a 32x32 image",
     UsageError),
    ({"eval_eps": 1025, "train_eps": 20}, "--eval_eps=1025 is more than the 1024 pixels",
     UsageError),
    ({"data": {"data_dir": "/no/such/folder"}}, "data folder /no/such/folder does not exist",
     DataError),
])
def test_values_that_do_not_fit_the_data_are_refused_before_training(changes, message, error,
                                                                     tmp_path):
    data = settings.from_dict(type(TrainConfig().data), changes.pop("data", {}))
    config = TrainConfig(output_dir=str(tmp_path / "out"), model="small_cnn", data=data,
                         **changes)
    with pytest.raises(error, match=message):
        train_and_evaluate(config)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("config_class", CONFIGS)
def test_no_command_takes_a_seed_numpy_cannot(config_class):
    """numpy's and Keras' seeding take 32-bit seeds: a larger one is refused in one line."""
    required = {TrainConfig: {}, EvalConfig: {"model": "m"}, AnalysisConfig: {"model": ("m",)}}
    with pytest.raises(UsageError, match=r"^--seed=4294967296: must be at most 4294967295$"):
        config_class(**required[config_class], seed=2**32)
    assert config_class(**required[config_class], seed=2**32 - 1).seed == 2**32 - 1


@pytest.mark.parametrize("config_class", CONFIGS)
def test_no_float_setting_takes_nan_or_infinity(config_class):
    required = {"model": "m"} if config_class is EvalConfig else \
        {"model": ("m",)} if config_class is AnalysisConfig else {}
    floats = [f.name for f in dataclasses.fields(config_class)
              if settings.rule_of(f) and "float" in str(f.type)]
    if config_class is TrainConfig:  # the nested settings (objectives', validation's) by flag
        floats = [settings.key_of(f) for f in settings.flag_fields(TrainConfig)
                  if "float" in str(f.type)]
        assert "mart_beta" in floats and "co_robust_drop" in floats
    assert floats or config_class is EvalConfig
    for name in floats:
        for bad in (float("nan"), float("inf"), float("-inf")):
            with pytest.raises(UsageError, match=f"--{name}=.*finite"):
                config_class(**required, **{name: bad})


def test_train_eps_defaults_to_six_times_eval_eps_and_sat_start_to_half_the_epochs():
    config = TrainConfig(eval_eps=10, epochs=40)
    assert (config.train_eps, config.soft_label_start_epoch) == (60, 20)
    assert TrainConfig(eval_eps=10, train_eps=15).train_eps == 15


@pytest.mark.parametrize("name, old, new", [("method", "sat", "sparse_at"),
                                            ("soft_labels", "sat", "self_adaptive")])
def test_the_old_sat_values_still_work_mean_what_they_meant_and_warn(name, old, new, capsys):
    given = {"method": "sparse_at", name: old}
    with pytest.warns(DeprecationWarning, match=f"{name}='{old}' is deprecated; use "
                                                f"{name}='{new}'"):
        assert getattr(TrainConfig(**given), name) == new
    flag_values = flags.FlagValues()
    settings.define_flags(TrainConfig, flag_values=flag_values)
    flag_values(["train", *(f"--{key}={value}" for key, value in given.items())])
    with pytest.warns(DeprecationWarning, match=f"--{name}={old} is deprecated; use "
                                                f"--{name}={new}"):
        assert getattr(settings.from_flags(TrainConfig, flag_values), name) == new
    assert f"--{name}={old} is deprecated; use --{name}={new}" in capsys.readouterr().err


def test_old_names_mean_what_they_meant():
    with pytest.warns(DeprecationWarning, match="'sat' is deprecated"):
        config = TrainConfig(method="sat", soft_labels="sat")
    assert (config.method, config.soft_labels) == ("sparse_at", "self_adaptive")
    assert config.self_adaptive and config.method_entry.objective == "sparse_at"
    with pytest.warns(DeprecationWarning, match="loss='sat' is deprecated; use loss='sparse_at'"):
        assert AnalysisConfig(model=("m",), loss="sat").loss == "sparse_at"


def test_a_run_folder_of_the_old_names_resumes_as_the_same_run(recwarn):
    old = json.loads(json.dumps(TrainConfig(method="sparse_at").to_dict()))
    old["method"] = "sat"
    assert settings.result_settings(TrainConfig.from_dict(old)) == \
        settings.result_settings(TrainConfig(method="sparse_at"))
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]  # silently


# Settings renamed, with a value other than the default: old name -> (name, value).
RENAMES = {"sat_start_epoch": ("soft_label_start_epoch", 3),
           "sat_momentum": ("soft_label_momentum", 0.7),
           "sat_attack_target": ("soft_label_attack_target", "hard"),
           "attack_steps": ("attack_iterations", 3),
           "val_attack_steps": ("val_attack_iterations", 5),
           "val_rs_queries": ("val_queries", 7)}


@pytest.mark.parametrize("old", sorted(RENAMES))
def test_an_old_setting_name_still_sets_it_as_a_flag_and_a_keyword_and_warns(old, capsys):
    name, value = RENAMES[old]
    expected = TrainConfig(method="fast_ls_l0", epochs=8, **{name: value})
    flag_values = flags.FlagValues()
    settings.define_flags(TrainConfig, flag_values=flag_values)
    flag_values(["train", "--method=fast_ls_l0", "--epochs=8", f"--{old}={value}"])
    with pytest.warns(DeprecationWarning, match=f"--{old} is deprecated; use --{name}"):
        assert settings.from_flags(TrainConfig, flag_values) == expected
    assert f"--{old} is deprecated; use --{name}" in capsys.readouterr().err
    assert f"--{old}" in flag_values[name].help  # --helpfull names the old spelling
    with pytest.warns(DeprecationWarning, match=f"{old}= is deprecated; use {name}="):
        assert TrainConfig(method="fast_ls_l0", epochs=8, **{old: value}) == expected


@pytest.mark.parametrize("old, key, path", [
    ("attack_steps", "attack_iterations", "attack_iterations"),
    ("val_attack_steps", "val_attack_iterations", "validation.val_attack_iterations"),
    ("val_rs_queries", "val_queries", "validation.val_queries"),
    ("val_robust_examples", "val_robust_examples", "validation.val_robust_examples"),
    ("co_robust_drop", "co_robust_drop", "validation.co_robust_drop"),
])
def test_the_old_attribute_names_read_the_settings_and_warn(old, key, path):
    config = TrainConfig(**{key: 0.25 if key.startswith("co_") else 4})
    with pytest.warns(DeprecationWarning, match=f"TrainConfig.{old} is deprecated; use .{path}"):
        assert getattr(config, old) == (0.25 if key.startswith("co_") else 4)
    with pytest.raises(AttributeError):
        config.no_such_setting  # noqa: B018


def test_the_robust_validation_settings_are_one_field_with_their_flat_keys():
    """Grouped under ``validation`` (issue 37): the flags, keywords and config.json keys are
    those they had at the top level."""
    config = TrainConfig(val_robust_examples=5, val_queries=3, stop_on_co=True)
    assert (config.validation.val_robust_examples, config.validation.val_queries,
            config.validation.stop_on_co) == (5, 3, True)
    flat = json.loads(json.dumps(config.to_dict()))
    flat.update(flat.pop("validation"))  # config.json as written before they were grouped
    assert TrainConfig.from_dict(flat) == config == TrainConfig.from_dict(config.to_dict())
    assert {"val_robust_examples", "val_queries", "stop_on_co"} <= set(
        settings.result_settings(config))
    assert len(dataclasses.fields(TrainConfig)) == 55  # 60 before the group


def test_a_run_folder_of_the_old_setting_names_resumes_as_the_same_run(recwarn):
    new = TrainConfig(method="fast_ls_l0", epochs=8, **dict(RENAMES.values()))
    old = json.loads(json.dumps(new.to_dict()))
    old.update(old.pop("validation"))  # config.json as written before the renames: flat
    for old_name, (name, _) in RENAMES.items():
        old[old_name] = old.pop(name)
    assert TrainConfig.from_dict(old) == new
    assert settings.result_settings(TrainConfig.from_dict(old)) == settings.result_settings(new)
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]  # silently


def test_no_current_setting_or_value_is_named_sat():
    """``sat`` means sparse adversarial training and self-adaptive soft labels: no name has it."""
    flag_values = flags.FlagValues()
    names = settings.define_flags(TrainConfig, flag_values=flag_values)
    current = [*names, *(choice for name in names for choice in
                         (settings.rule_of(next(settings.flag_fields(TrainConfig, {name})))
                          .choices))]
    assert not [name for name in current if "sat" in str(name).split("_")]


@pytest.mark.parametrize("config_class", CONFIGS)
def test_each_flag_has_help(config_class):
    flag_values = flags.FlagValues()
    names = settings.define_flags(config_class, flag_values=flag_values)
    for name in names:
        assert flag_values[name].help.strip(), name


def test_flags_and_config_agree_on_every_default():
    flag_values = flags.FlagValues()
    settings.define_flags(TrainConfig, flag_values=flag_values)
    flag_values(["train"])
    assert settings.from_flags(TrainConfig, flag_values) == TrainConfig()


def test_a_run_folder_from_before_the_threat_settings_were_nested_resumes_as_the_same_run():
    new = TrainConfig(threat_model=ThreatConfig(threat="patches", patch_size=5,
                                                patch_placement="grid"))
    old = json.loads(json.dumps(new.to_dict()))
    old.update(old.pop("threat_model"))  # config.json kept the threat's fields at the top level
    assert TrainConfig.from_dict(old) == new
    assert settings.result_settings(TrainConfig.from_dict(old)) == settings.result_settings(new)


def test_the_threat_settings_keep_their_hparams_keys_and_reach_both_commands():
    hparams = settings.flat_dict(TrainConfig(threat_model=ThreatConfig(threat="columns")))
    assert hparams["threat"] == "columns" and hparams["patch_size"] == 3
    assert "data.dataset" in hparams and not any(key.startswith("threat_model") for key in hparams)
    for config_class, required in ((TrainConfig, ()), (EvalConfig, ("--model=m",))):
        flag_values = flags.FlagValues()
        settings.define_flags(config_class, flag_values=flag_values)
        flag_values(["command", "--threat=patches", "--patch_size=5", *required])
        config = settings.from_flags(config_class, flag_values)
        assert config.threat_model == ThreatConfig(threat="patches", patch_size=5)
