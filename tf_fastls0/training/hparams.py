"""A run on TensorBoard's HParams dashboard (``logs/``): its settings and the metrics to compare
runs by.

Each run logs the settings that change results (not ``output_dir``, ``resume``, ``verbose``, ...:
those marked ``changes_results=False``) and, of the settings that belong to one method or add-on
(a baseline's coefficients, the soft labels', AWP's), only those its own method reads
(``method_settings.py``, derived from its records), and why the run computes in its precision
(``mixed_precision_reason``: ``auto``'s choice on its machine). Every run declares the same experiment: every
setting that may change results as a column, and the metrics below, so the dashboard can sort runs
by clean, robust-validation or final Sparse-AutoAttack accuracy whichever run it reads it from.
"""

import os

import tensorflow as tf

from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.method_settings import (every_method_setting, method_settings,
                                                 shared_settings)
from tf_fastls0.utils import settings

LOGS_DIR = "logs"
# Written at the end of a run with --final_eval to logs/ itself (the session's own folder).
FINAL_ROBUST_ACCURACY = "final_eval/robust_accuracy"
FINAL_CLEAN_ACCURACY = "final_eval/clean_accuracy"
# (run folder under logs/, scalar tag, what it is). Keras' TensorBoard callback writes the epoch
# logs as epoch_<name> to train/, the val_<name> ones as epoch_<name> to validation/ (the test
# split's, and the per-epoch robust validation's val_robust_accuracy as epoch_robust_accuracy).
METRICS = (
    ("validation", "epoch_accuracy", "Clean accuracy on the test split, each epoch"),
    ("validation", "epoch_robust_accuracy",
     "Robust validation accuracy (sPGD + Sparse-RS, --eval_eps), each epoch"),
    ("train", "epoch_adversarial_accuracy", "Accuracy on the training attack's examples"),
    ("train", "epoch_accuracy", "Training accuracy, each epoch"),
    ("", FINAL_ROBUST_ACCURACY, "Final Sparse-AutoAttack robust accuracy (--final_eval), percent"),
    ("", FINAL_CLEAN_ACCURACY, "Final evaluation's clean accuracy (--final_eval), percent"),
)


# Shown though they change no result: why the run computes in its precision (auto's choice).
EXPLANATIONS = ("mixed_precision_reason",)


def method_specific_settings():
    """The settings only some methods or add-ons read."""
    return every_method_setting() - shared_settings()


def logged_settings(config):
    """``{name: value}``: the settings of ``config`` the dashboard shows for its run."""
    unused = method_specific_settings() - method_settings(config.method,
                                                          settings.flat_dict(config))
    shown = {**settings.flat_dict(config, results_only=True),
             **{name: getattr(config, name) for name in EXPLANATIONS}}
    return {name: _hparam_value(value) for name, value in shown.items() if name not in unused}


def write(config):
    """The experiment (columns and metrics) and this run's settings, to ``logs/``."""
    from tensorboard.plugins.hparams import api as hparams_api

    columns = [hparams_api.HParam(name) for name in
               (*settings.flat_dict(TrainConfig(), results_only=True), *EXPLANATIONS)]
    metrics = [hparams_api.Metric(tag, group=group or None, display_name=tag, description=about)
               for group, tag, about in METRICS]
    with tf.summary.create_file_writer(os.path.join(config.output_dir, LOGS_DIR)).as_default():
        hparams_api.hparams_config(hparams=columns, metrics=metrics)
        hparams_api.hparams(logged_settings(config),
                            trial_id=os.path.basename(os.path.normpath(config.output_dir)))


def write_final_evaluation(config, final_eval, step):
    """The final evaluation's accuracies as scalars of the session (``logs/`` itself)."""
    with tf.summary.create_file_writer(os.path.join(config.output_dir, LOGS_DIR)).as_default():
        tf.summary.scalar(FINAL_ROBUST_ACCURACY, final_eval["robust_acc"], step=step)
        tf.summary.scalar(FINAL_CLEAN_ACCURACY, final_eval["clean_acc"], step=step)


def _hparam_value(value):
    return value if isinstance(value, (bool, int, float, str)) else str(value)
