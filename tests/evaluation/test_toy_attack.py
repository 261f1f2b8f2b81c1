"""A new attack is its module and one registry line: with ``toy_attack.ATTACK`` in the registry,
``--attacks`` accepts it, the one-call interface calls it, and ``evaluate_model`` runs it alone and
after the cascade, with its code in the records and its display name in the table."""

import importlib.util
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.attacks import ATTACKS, registry
from tf_fastls0.evaluation import EvalConfig, evaluate_model, markdown_table
from tf_fastls0.utils.cli import UsageError


def _load_toy_attack():
    path = pathlib.Path(__file__).with_name("toy_attack.py")
    spec = importlib.util.spec_from_file_location("toy_attack", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


toy_attack = _load_toy_attack()


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(registry._RECORDS, "darken", toy_attack.ATTACK)  # the registry line


def _dark_means_class_0(images):
    """Class 1 when the top-left pixel is bright: the toy attack fools it with eps >= 1."""
    corner = tf.reduce_mean(images[:, 0, 0, :], axis=-1)
    return tf.stack([0.5 - corner, corner - 0.5], axis=-1) * 10.0


def test_without_its_line_the_attack_is_refused():
    with pytest.raises(UsageError, match="--attacks=darken"):
        EvalConfig(model="m", attacks="darken")


def test_the_one_call_interface_runs_it(registered):
    images = np.full((2, 4, 4, 3), 0.9, np.float32)
    result = ATTACKS["darken"](_dark_means_class_0, images, np.ones(2, np.int32), eps=1)
    assert np.all(np.asarray(result.is_adversarial))


def test_the_evaluation_runs_it_alone_and_reports_it(registered, tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(0.6, 1.0, size=(6, 4, 4, 3)).astype(np.float32)
    images[:2, 0, 0, :] = 0.1  # two images the model gets wrong
    labels = np.ones(6, np.int32)
    assert EvalConfig(model="m", attacks="darken,saa").attacks == ("darken", "saa")  # --attacks
    report = evaluate_model(model=_dark_means_class_0, images=images, labels=labels,
                            attacks="darken,saa", eps=1, iterations=2, queries=2, batch_size=6,
                            progress=False, output_dir=str(tmp_path))
    codes = np.array(report["images"]["broken_by"]["darken"])
    np.testing.assert_array_equal(codes, [0, 0, 7, 7, 7, 7])
    assert report["attacks"]["darken"]["robust_acc"] == 0.0
    assert report["stage_codes"]["darken"] == 7
    assert "Darken" in markdown_table(report)
