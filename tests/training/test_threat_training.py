"""Training against a structured threat: every method's attack stays in its structures, and a
model trained against patches is evaluated against patches and against pixels."""

import json
import sys

import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0 import data as data_lib
from tf_fastls0.attacks.threat_config import ThreatConfig
from tf_fastls0.attacks.threats import make_threat
from tf_fastls0.evaluation import EvalConfig, evaluate_model
from tf_fastls0.training import recipe as recipe_lib
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.methods import METHODS
from tf_fastls0.training.run import build_trainer, train_and_evaluate
from tf_fastls0.utils.cli import UsageError

sys.path.insert(0, __file__.rsplit("/training/", 1)[0] + "/attacks")
from conftest import check_structured_image  # noqa: E402  (the attack tests' invariant)

SMALL = dict(model="small_cnn", width=0.25, epochs=1, batch_size=16, eval_eps=1,
             val_robust_examples=8, val_attack_iterations=2, verbose=0,
             data=data_lib.DataConfig(max_train_examples=32, max_eval_examples=16))
PATCHES = dict(threat_model=ThreatConfig(threat="patches", patch_size=3), train_eps=2)


# ATTA carries pixel perturbations and refuses structured threats (tests/training/test_config.py)
@pytest.mark.parametrize("method", [name for name, entry in METHODS.items()
                                    if entry.adversarial and not entry.has("atta")])
def test_every_methods_training_attack_stays_in_its_patches(method):
    splits = data_lib.load_data(SMALL["data"])
    config = TrainConfig(**SMALL, **PATCHES, method=method, attack_iterations=3, soft_label_start_epoch=0)
    trainer, _ = build_trainer(config, splits)
    images = splits.train.float_images()[:16]
    # The network's own predictions as labels, so that no image is a clean mistake left alone.
    labels = np.argmax(trainer.network(images, training=False), axis=-1).astype(np.int32)
    batch = recipe_lib.prepare(trainer.recipe, trainer.network, trainer.states, images, labels,
                               tf.range(16), tf.constant(0, tf.int64), 2)
    threat = make_threat("patches", splits.image_shape, patch_size=3)
    adversarial, attacked = np.asarray(batch.adversarial), np.asarray(batch.images)
    check_structured_image(adversarial, attacked, threat, 2)
    assert np.any(adversarial != attacked)


def test_a_model_trained_against_patches_is_evaluated_against_patches_and_pixels(tmp_path,
                                                                                 monkeypatch):
    from tf_fastls0.evaluation import budgets

    monkeypatch.setitem(budgets.BUDGETS, "saa_quick",
                        {"attacks": ("saa",), "iterations": 3, "queries": 5, "n_examples": 16})
    config = TrainConfig(**SMALL, **PATCHES, method="fast_ls_l0", output_dir=str(tmp_path),
                         final_eval="saa_quick")
    summary = train_and_evaluate(config)
    assert summary["final_eval"]["k_unit"] == "patches"
    patches = json.loads((tmp_path / "final_eval_saa_quick" / "report.json").read_text())
    assert patches["k"] == 1 and patches["k_unit"] == "patches"
    assert patches["threat"]["description"] == "3x3 patches anywhere"
    assert (patches["settings"]["threat"], patches["settings"]["patch_size"]) == ("patches", 3)
    pixels = evaluate_model(EvalConfig(model=str(tmp_path), eps=20, iterations=3, queries=5,
                                       n_examples=16, progress=False, data=config.data))
    assert pixels["k_unit"] == "pixels" and pixels["threat"]["name"] == "pixels"
    assert pixels["robust_acc"] <= pixels["clean_acc"] == patches["clean_acc"]


def test_a_structured_budget_that_does_not_fit_is_one_usage_error(tmp_path):
    config = TrainConfig(**{**SMALL, "eval_eps": 40}, threat_model=ThreatConfig("columns"),
                         train_eps=1, method="sparse_at", output_dir=str(tmp_path))
    with pytest.raises(UsageError, match="--eval_eps=40 is more than the 32 columns"):
        train_and_evaluate(config)
