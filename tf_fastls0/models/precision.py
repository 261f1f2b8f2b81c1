"""Mixed precision: a classifier that computes in bfloat16 or float16 but takes and gives float32.

``--mixed_precision`` (training and evaluation) names a Keras dtype policy: ``off`` (float32),
``mixed_bfloat16`` or ``mixed_float16``. Under a mixed policy the weights stay float32 and every
layer computes in the low precision, except the model's output layers, which compute in float32:
so the network takes float32 images in [0, 1] and gives float32 logits, and everything outside
it stays float32: images, perturbations, masks (the attack's top-k and sign steps see exact
values and gradients cast back to float32), losses and the soft labels. float16 training also
needs loss scaling (``training/optimizer.py``'s ``loss_scaled``); bfloat16 has float32's range
and needs none.

The policy is applied in one place, ``with_policy``: a copy of the network (the same layers and
weights) with every layer's policy set. Training builds the float32 network as usual and runs
its copy under the policy (the same initial weights as a float32 run of the same seed); the
export is the float32 copy again; evaluation copies the loaded Keras model under its own
``--mixed_precision``.
"""

import dataclasses

import keras
import tensorflow as tf

from tf_fastls0.models.batch_norm import BatchNormalization
from tf_fastls0.utils.cli import UsageError

OFF = "off"
PRECISIONS = (OFF, "mixed_bfloat16", "mixed_float16")
FLOAT16 = "mixed_float16"
PRECISION_HELP = ("Keras mixed-precision policy: off (float32), mixed_bfloat16 or mixed_float16 "
                  "(with dynamic loss scaling in training). Weights, images, perturbations, "
                  "losses and logits stay float32; the layers compute in the low precision.")


def policy_name(precision):
    """The Keras policy name of a ``--mixed_precision`` value."""
    return "float32" if precision == OFF else precision


def with_policy(network, precision):
    """``network`` (a functional Keras model) computing under ``precision``: itself when it
    already does, else a copy with the same weights whose output layers stay float32."""
    policy = policy_name(precision)
    if precision_of(network) == policy:
        return network
    return _copy(network, policy)


def _copy(network, policy, keras_layers=False):
    """A copy of ``network`` with the same weights computing under ``policy`` (its output layers
    in float32); with ``keras_layers``, our fused ``BatchNormalization`` becomes Keras' own."""
    outputs = {tensor._keras_history.operation.name for tensor in tf.nest.flatten(network.outputs)}

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.Layer):  # not functional ops (Add, ...): no policy
            config["dtype"] = "float32" if layer.name in outputs else policy
        if keras_layers and isinstance(layer, BatchNormalization):
            return keras.layers.BatchNormalization.from_config(config)
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(network, clone_function=clone)
    copy.set_weights(network.get_weights())
    return copy


def precision_of(network):
    """The policy its layers compute in: the first layer that is not float32 names it."""
    for layer in network.layers:
        if layer.dtype_policy.name != "float32":
            return layer.dtype_policy.name
    return "float32"


def float32(network):
    """The network computing in float32 throughout, as it is exported: where it has our fused
    ``BatchNormalization`` (``batch_norm.py``), a copy with Keras' own layer in its place (same
    config and weights; the two compute the same), so its ``.keras`` file loads with Keras alone,
    in safe mode, as before the fused layer (unless it has another layer of ours, FLC pooling)."""
    if not any(isinstance(layer, BatchNormalization) for layer in network.layers):
        return with_policy(network, OFF)
    return _copy(network, policy_name(OFF), keras_layers=True)


def for_evaluation(loaded, precision):
    """A ``LoadedModel`` whose network computes under ``precision``; a SavedModel cannot."""
    if precision == OFF:
        return loaded
    if not isinstance(loaded.network, keras.Model):
        raise UsageError(f"--mixed_precision={precision} needs a Keras model, but {loaded.path} "
                         "is a SavedModel: pass the run folder, its model.keras or a checkpoint")
    return dataclasses.replace(loaded, network=with_policy(loaded.network, precision))
