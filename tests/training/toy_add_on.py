"""A new step add-on and a new method, added as a module would add them: the add-on's record with
its hook (below, as ``training/logit_penalty.py`` would hold it) and one line in
``methods.ADD_ONS``; the method one entry in ``methods.METHODS`` (both done here before the
config is made, as an import of the module would). Prints what the rest of the package made of
them as one JSON line (tests/training/test_records.py).
"""

import dataclasses
import json

import keras
import numpy as np
import tensorflow as tf
from absl import flags

from tf_fastls0.losses import distributed
from tf_fastls0.losses.records import AddOn
from tf_fastls0.utils.settings import setting


# --- training/logit_penalty.py -------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LogitPenaltySettings:
    enabled: bool = setting(False, "Logit penalty: add it to any adversarial method.",
                            key="logit_penalty")
    weight: float = setting(0.1, "Logit penalty: weight of the mean squared clean logit.",
                            lower=0.0, upper=1e4, key="logit_penalty_weight")


def loss_term(network, batch, targets, settings, recipe):
    del targets, recipe
    logits = network(batch.images, training=True)
    share = distributed.global_batch_mean(tf.reduce_mean(tf.square(logits), axis=-1))
    return settings.weight * share, {"logit_penalty": share}


ADD_ON = AddOn("logit_penalty", "Logit penalty", LogitPenaltySettings, switch=True,
               log_names=("logit_penalty",), loss_term=loss_term)
# --------------------------------------------------------------------------------------------

from tf_fastls0.training import methods  # noqa: E402

methods.ADD_ONS["logit_penalty"] = ADD_ON  # the line in methods.ADD_ONS
methods.METHODS["toy_method"] = methods.Method(  # the method: one entry
    "sparse_at", add_ons=("logit_penalty",), summary="Toy: sAT + a logit penalty")

import tf_fastls0  # noqa: E402
from tf_fastls0.training import hparams  # noqa: E402
from tf_fastls0.training.config import TrainConfig  # noqa: E402
from tf_fastls0.training.method_settings import method_settings  # noqa: E402
from tf_fastls0.utils import settings  # noqa: E402

import toy_run  # noqa: E402  (beside this script; after the table lines)
from tf_fastls0.utils.cli import UsageError  # noqa: E402


def classifier():
    inputs = keras.Input((8, 8, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    return keras.Model(inputs, keras.layers.Dense(3)(hidden))


def first_step(weights, penalty_weight):
    """The first step's logs of ``toy_method`` from ``weights`` (one batch of 8 images)."""
    network = classifier()
    network.set_weights(weights)
    rng = np.random.default_rng(0)
    images, labels = rng.random((8, 8, 8, 3), dtype=np.float32), rng.integers(0, 3, 8)
    model = tf_fastls0.SparseAdversarialModel(network, "toy_method", train_eps=2,
                                              logit_penalty_weight=penalty_weight)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    return model.fit(images, labels, batch_size=8, epochs=1, verbose=0, shuffle=False).history


def refusal(**given):
    try:
        tf_fastls0.SparseAdversarialModel(classifier(), "sparse_at", **given)
    except UsageError as error:
        return str(error)
    return None


flag_values = flags.FlagValues()
settings.define_flags(TrainConfig, flag_values=flag_values)
flag_default = flag_values["logit_penalty_weight"].default
config, history = toy_run.trained(flag_values, "--method=sparse_at", "--logit_penalty", "--logit_penalty_weight=0.25")
start = classifier().get_weights()
with_penalty, without = first_step(start, 1.0), first_step(start, 0.0)
print(json.dumps({
    "flag_default": flag_default,
    "config_weight": config.logit_penalty.weight,
    "read_back": TrainConfig.from_dict({"method": "sparse_at", "logit_penalty": True,
                                        "logit_penalty_weight": 0.25}).logit_penalty.weight,
    "hparams": hparams.logged_settings(config).get("logit_penalty_weight"),
    "hparams_off": "logit_penalty_weight" in hparams.logged_settings(TrainConfig()),
    "method_reads": "logit_penalty_weight" in method_settings("toy_method", {}),
    "switched_reads": "logit_penalty_weight" in method_settings("sparse_at",
                                                                {"logit_penalty": True}),
    "off_reads": "logit_penalty_weight" in method_settings("sparse_at", {}),
    "refusal": refusal(logit_penalty_weight=0.5),
    "help": "toy_method (Toy: sAT" in flag_values["method"].help,
    "logged": sorted(history.history),
    "finite": bool(np.isfinite(history.history["logit_penalty"][0])),
    "penalty": with_penalty["logit_penalty"][0],
    "loss_difference": with_penalty["loss"][0] - without["loss"][0],
}))
