"""Reads scalar curves back from a run's TensorBoard event files (SPEC section 8, gradient norm).

The trainer logs per-step scalars under ``logs/train`` (``step/gradient_norm`` every
``log_every_steps`` steps) and per-epoch validation scalars under ``logs/validation`` (Keras'
``epoch_accuracy``, and ``epoch_robust_accuracy`` when robust validation ran). TF2 summaries store
a scalar as a tensor; TF1 ones as ``simple_value``: both are read.
"""

import glob
import os
from typing import NamedTuple

import numpy as np
import tensorflow as tf

GRADIENT_NORM_TAG = "step/gradient_norm"
ROBUST_ACCURACY_TAG = "epoch_robust_accuracy"


class Curve(NamedTuple):
    """A scalar's values by step, sorted by step (the last write wins for a repeated step)."""
    steps: np.ndarray
    values: np.ndarray


def event_files(log_dir):
    return sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*")))


def _scalar(value):
    if value.HasField("simple_value"):
        return float(value.simple_value)
    return float(tf.make_ndarray(value.tensor))


def read_scalars(log_dir, tag):
    """The ``Curve`` of ``tag`` over every event file in ``log_dir`` (empty if never logged)."""
    by_step = {}
    for path in event_files(log_dir):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.tag == tag:
                    by_step[int(event.step)] = _scalar(value)
    steps = np.array(sorted(by_step), dtype=np.int64)
    return Curve(steps, np.array([by_step[step] for step in steps], dtype=np.float64))


def gradient_norm_curve(run_dir):
    """``step/gradient_norm`` from ``<run_dir>/logs/train``."""
    return read_scalars(os.path.join(run_dir, "logs", "train"), GRADIENT_NORM_TAG)


def robust_accuracy_curve(run_dir):
    """``epoch_robust_accuracy`` by epoch from ``<run_dir>/logs/validation`` (empty if not logged)."""
    return read_scalars(os.path.join(run_dir, "logs", "validation"), ROBUST_ACCURACY_TAG)
