"""One record per objective and step add-on: its settings' defaults are the config's and the
flags', its keys are ``<record>_<field>``, its old flags, keywords and ``config.json`` keys still
set it (the flags and keywords with a warning), its terms are logged under its
own names, and a new objective with a coefficient is one module plus one line in each table."""

import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import pytest
from absl import flags

from tf_fastls0.losses.objectives import OBJECTIVES
from tf_fastls0.training.config import MethodSettings, TrainConfig
from tf_fastls0.training.methods import ADD_ONS, METHODS
from tf_fastls0.training.recipe import recipe_for
from tf_fastls0.utils import settings
from tf_fastls0.utils.cli import UsageError

RECORDS = [record for record in (*OBJECTIVES.values(), *ADD_ONS.values())
           if record.settings is not None]
DERIVED = {("nuat", "ramp_epochs")}  # None: the config derives it from the epochs


def _flag_values():
    flag_values = flags.FlagValues()
    settings.define_flags(TrainConfig, flag_values=flag_values)
    return flag_values


def test_every_records_defaults_are_the_configs_and_the_flags():
    flag_values = _flag_values()
    config = TrainConfig()
    assert {field.name for field in dataclasses.fields(MethodSettings)} == \
        {record.name for record in RECORDS}
    for record in RECORDS:
        for field in dataclasses.fields(record.settings):
            key = f"{record.name}_{field.name}"  # a coefficient's key: its record and field
            assert settings.setting_keys(record.settings, record.name).count(key) == 1
            flag = flag_values[key]
            assert flag.default == field.default, key
            assert flag.help.strip() and flag.validators, key  # help text and a range check
            if (record.name, field.name) not in DERIVED:
                assert getattr(getattr(config, record.name), field.name) == field.default, key


FLAT = {"method": "mart", "mart_beta": 3.0, "tradeoff_alpha": 0.5, "strades_beta": 2.0,
        "label_smoothing_factor": 0.2, "nuat_weight": 2.0, "nuat_ramp_epochs": 5,
        "advlc_top": 0.5, "aaer_ce_weight": 3.0, "grad_align_weight": 0.4,
        "fast_bat_weight": 5.0, "awp_enabled": True, "awp_gamma": 0.005, "lap_beta": 0.01,
        "atta_reset_epochs": 0, "epochs": 8}
# The keys of the previous release, where they differed (issue 37).
OLD_KEYS = {"strades_beta": "trades_beta", "label_smoothing_factor": "label_smoothing",
            "nuat_weight": "nuat_lambda", "advlc_weight": "advlc_lambda",
            "aaer_weight": "aaer_lambda1", "aaer_ce_weight": "aaer_lambda2",
            "aaer_variation_weight": "aaer_lambda3", "grad_align_weight": "grad_align_lambda",
            "fast_bat_weight": "fast_bat_lambda", "awp_enabled": "awp"}


def test_the_flat_keys_set_the_nested_settings_and_an_old_config_json_reads_back_silently(
        recwarn):
    config = TrainConfig(**FLAT)
    assert (config.mart.beta, config.label_smoothing.factor, config.nuat.ramp_epochs,
            config.awp.enabled, config.awp.gamma, config.atta.reset_epochs) == \
        (3.0, 0.2, 5, True, 0.005, 0)
    old = dict(json.loads(json.dumps(config.to_dict())))
    for record in RECORDS:  # config.json as written before the settings were nested
        nested = old.pop(record.name)
        for field in dataclasses.fields(record.settings):
            key = f"{record.name}_{field.name}"
            old[OLD_KEYS.get(key, key)] = nested[field.name]
    nested_old = dict(json.loads(json.dumps(config.to_dict())))  # nested, the old field name
    nested_old["label_smoothing"] = {"smoothing": 0.2}
    for written in (old, nested_old):
        assert TrainConfig.from_dict(written) == config
        assert settings.result_settings(TrainConfig.from_dict(written)) == \
            settings.result_settings(config)
    assert TrainConfig.from_dict(config.to_dict()) == config
    flat = settings.flat_dict(config)  # HParams' keys
    assert {key: flat[key] for key in FLAT} == FLAT
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]


def test_the_flags_set_the_nested_settings_and_refuse_bad_values_in_one_line():
    flag_values = _flag_values()
    flag_values(["train", *(f"--{key}={value}" for key, value in FLAT.items())])
    assert settings.from_flags(TrainConfig, flag_values) == TrainConfig(**FLAT)
    with pytest.raises(flags.IllegalFlagValueError, match="mart_beta"):
        _flag_values()(["train", "--mart_beta=nan"])
    with pytest.raises(UsageError, match=r"^--aaer_variation_weight=-1: must be at least 0$"):
        TrainConfig(aaer_variation_weight=-1)


@pytest.mark.parametrize("new, old", sorted(OLD_KEYS.items()))
def test_an_old_key_still_sets_its_setting_as_a_flag_and_a_keyword_and_warns(new, old, capsys):
    value = FLAT.get(new, 0.5)
    expected = TrainConfig(method="mart", **{new: value})
    with pytest.warns(DeprecationWarning, match=f"{old}= is deprecated; use {new}="):
        assert TrainConfig(method="mart", **{old: value}) == expected
    flag_values = _flag_values()
    flag_values(["train", "--method=mart", f"--{old}={value}"])
    with pytest.warns(DeprecationWarning, match=f"--{old} is deprecated; use --{new}"):
        assert settings.from_flags(TrainConfig, flag_values) == expected
    assert f"--{old} is deprecated; use --{new}" in capsys.readouterr().err
    assert f"--{old}" in _flag_values()[new].help  # --helpfull names the old spelling


@pytest.mark.parametrize("method, own, not_logged", [
    ("mart", {"boosted_ce", "misclassification_kl"}, {"clean_loss", "adversarial_loss"}),
    ("advlc", {"adversarial_ce", "logit_variation"}, {"clean_loss", "adversarial_loss"}),
    ("n_aaer", {"adversarial_ce", "abnormal_regulariser"}, {"clean_loss", "adversarial_loss"}),
    ("nuat", {"clean_loss", "nuclear_norm"}, {"adversarial_loss"}),
    ("fast_ls_l0", {"clean_loss", "adversarial_loss", "soft_label_weight"}, {"boosted_ce"}),
    ("grad_align", {"gradient_misalignment"}, {"implicit_correction"}),
])
def test_each_objective_logs_its_terms_under_its_own_names(method, own, not_logged):
    recipe = recipe_for(TrainConfig(method=method))
    logged = set(recipe.logged_means)
    assert own <= logged and not logged & not_logged


def test_every_method_names_a_registered_objective_and_add_ons():
    for name, method in METHODS.items():
        assert method.objective in OBJECTIVES, name
        assert set(method.add_ons) <= set(ADD_ONS), name


def toy_report(script):
    """What ``tests/training/<script>`` printed as its last line (JSON), run in a process of its
    own: the tables are read when the config class is made, at import, so a toy's table line
    must come before it."""
    repo = pathlib.Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, f"tests/training/{script}"],
                            capture_output=True, text=True, timeout=600, cwd=repo,
                            env=dict(os.environ, PYTHONPATH=str(repo)))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_new_objective_with_a_coefficient_is_one_module_and_one_line_in_each_table():
    report = toy_report("toy_objective.py")
    assert report["flag_default"] == 0.5 and report["config_weight"] == 0.25
    assert report["read_back"] == 0.25 and report["hparams"] == 0.25
    assert report["method_settings"] and report["help"]
    assert {"toy_ce", "toy_penalty"} <= set(report["logged"])
    assert report["finite"]


def test_a_new_add_on_is_one_module_and_one_line_and_a_new_method_one_entry():
    report = toy_report("toy_add_on.py")
    # its settings: a flag with the record's default, the config field, config.json, HParams
    assert report["flag_default"] == 0.1 and report["config_weight"] == 0.25
    assert report["read_back"] == 0.25 and report["hparams"] == 0.25
    assert not report["hparams_off"]  # not shown for the runs that do not have it
    # read by the method that lists it and by any method whose run switches it on, refused else
    assert report["method_reads"] and report["switched_reads"] and not report["off_reads"]
    assert "has no Logit penalty (add logit_penalty=True)" in report["refusal"]
    assert report["help"]
    # the command's run logs it; the Python API's loss holds weight x its value
    assert "logit_penalty" in report["logged"] and report["finite"]
    assert report["penalty"] > 0
    assert abs(report["loss_difference"] - report["penalty"]) < 1e-5 * (1 + report["penalty"])
