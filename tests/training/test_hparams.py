"""What a run shows on TensorBoard's HParams dashboard, read back from the event files."""

import pytest
import tensorflow as tf
from tensorboard.plugins.hparams import plugin_data_pb2

from tf_fastls0.training import hparams
from tf_fastls0.training.config import TrainConfig


def _written(logs):
    """The hparams plugin's experiment and session start info, and the scalars, in ``logs``."""
    experiment, session, scalars = None, None, {}
    for path in logs.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "hparams":
                    data = plugin_data_pb2.HParamsPluginData.FromString(
                        value.metadata.plugin_data.content)
                    if data.HasField("experiment"):
                        experiment = data.experiment
                    if data.HasField("session_start_info"):
                        session = data.session_start_info
                elif value.metadata.plugin_data.plugin_name == "scalars":
                    scalars[value.tag] = float(tf.make_ndarray(value.tensor))
    return experiment, session, scalars


@pytest.mark.parametrize("method, own, others", [
    ("mart", {"mart_beta"}, {"strades_beta", "nuat_weight", "aaer_weight", "lap_beta"}),
    ("fast_ls_l0",
     {"strades_beta", "trades_mode", "soft_label_momentum", "soft_label_start_epoch"},
     {"mart_beta", "tradeoff_alpha", "advlc_top", "fast_bat_weight"}),
])
def test_a_run_logs_the_settings_that_change_results_and_its_own_coefficients(
        tmp_path, method, own, others):
    hparams.write(TrainConfig(method=method, epochs=4, output_dir=str(tmp_path)))
    experiment, session, _ = _written(tmp_path / "logs")
    logged = set(session.hparams)
    assert own <= logged
    assert {"method", "epochs", "train_eps", "seed", "threat", "data.dataset"} <= logged
    assert not logged & others
    assert not logged & {"output_dir", "overwrite", "resume", "verbose", "log_every_steps",
                         "final_eval"}
    assert not logged & {"awp_gamma", "awp_warmup_epochs"}  # AWP is off
    assert session.hparams["method"].string_value == method
    # Every run declares the same columns, so other methods' runs find theirs.
    columns = {info.name for info in experiment.hparam_infos}
    assert own | others | {"awp_gamma"} <= columns and "output_dir" not in columns


def test_the_dashboard_can_sort_runs_by_clean_robust_and_final_accuracy(tmp_path):
    config = TrainConfig(method="sparse_at", epochs=2, output_dir=str(tmp_path))
    hparams.write(config)
    hparams.write_final_evaluation(config, {"robust_acc": 41.5, "clean_acc": 80.0}, step=2)
    experiment, _, scalars = _written(tmp_path / "logs")
    declared = {(info.name.group, info.name.tag) for info in experiment.metric_infos}
    assert {("validation", "epoch_accuracy"), ("validation", "epoch_robust_accuracy"),
            ("", "final_eval/robust_accuracy")} <= declared
    assert scalars["final_eval/robust_accuracy"] == pytest.approx(41.5)
