"""The evaluation's threat settings: checked before any work, and named in the output folder."""

import pytest

from tf_fastls0.attacks.threat_config import ThreatConfig
from tf_fastls0.evaluation.config import EvalConfig, default_output_dir
from tf_fastls0.evaluation.report import markdown_table
from tf_fastls0.utils.cli import UsageError


@pytest.mark.parametrize("threat, attacks, message", [
    ({"threat": "columns"}, ("saa", "saif"), "saif attack pixels only"),
    ({"threat": "patches"}, ("sigma_zero",), "sigma_zero attack pixels only"),
    ({"threat": "groups"}, ("saa",), "needs --group_map"),
    ({"group_map": "map.npy"}, ("saa",), "only read with --threat=groups"),
])
def test_a_threat_that_cannot_run_is_refused_at_once(threat, attacks, message):
    with pytest.raises(UsageError, match=message):
        EvalConfig(model="m", attacks=attacks, threat_model=ThreatConfig(**threat))


@pytest.mark.parametrize("overrides, folder", [
    ({}, "eval_quick_k4"),
    ({"threat": "patches", "patch_size": 5}, "eval_quick_patches5x5_k4"),
    ({"threat": "patches", "patch_placement": "grid"}, "eval_quick_gridpatches3x3_k4"),
    ({"threat": "columns"}, "eval_quick_columns_k4"),
])
def test_the_default_output_folder_names_the_threat(overrides, folder, tmp_path):
    config = EvalConfig(model=str(tmp_path), eps=4, iterations=100, queries=300,
                        threat_model=ThreatConfig(**overrides))
    assert default_output_dir(config, str(tmp_path)) == str(tmp_path / folder)


def test_the_markdown_row_states_the_unit_of_k():
    report = {"attacks": {"saa": {"robust_acc": 12.5}}, "architecture": "net", "k": 2,
              "k_unit": "columns", "n_examples": 8, "clean_acc": 50.0, "robust_acc": 12.5}
    assert "| net | 2 columns | 8 | 50.0 | 12.5 |" in markdown_table(report)
