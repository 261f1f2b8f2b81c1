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

Training's default is ``auto`` (``auto_precision``): bfloat16 where the device computes it
natively, float32 elsewhere. Natively: a GPU of compute capability 8.0 or newer (Ampere on), or,
with no GPU, a CPU whose flags (``/proc/cpuinfo``) include ``amx_bf16`` or ``avx512_bf16``. On
a CPU without them TensorFlow emulates bfloat16 and a step costs about ten times float32's
(AMD EPYC Zen 3, benchmarks/README.md); with them it costs about 0.6x (Intel Xeon with AMX,
issue 40). Evaluation's default stays ``off``: a robustness figure must not depend on the machine
it was measured on.
"""

import dataclasses

import keras
import tensorflow as tf

from tf_fastls0.models.batch_norm import BatchNormalization
from tf_fastls0.utils.cli import UsageError

OFF = "off"
BFLOAT16 = "mixed_bfloat16"
FLOAT16 = "mixed_float16"
PRECISIONS = (OFF, BFLOAT16, FLOAT16)
AUTO = "auto"
TRAINING_PRECISIONS = (AUTO,) + PRECISIONS
CPUINFO = "/proc/cpuinfo"
BFLOAT16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
BFLOAT16_COMPUTE_CAPABILITY = (8, 0)
GIVEN = "given"  # the reason of a value the user named
KEPT = "kept from the run's start: "  # the reason of auto resuming a run, before the start's
PRECISION_HELP = ("Keras mixed-precision policy: off (float32), mixed_bfloat16 or mixed_float16 "
                  "(with dynamic loss scaling in training). Weights, images, perturbations, "
                  "losses and logits stay float32; the layers compute in the low precision.")
AUTO_HELP = (" auto (training's default): mixed_bfloat16 where the device computes bfloat16 "
             "natively (a GPU of compute capability 8.0 or newer; with no GPU, a CPU with "
             "amx_bf16 or avx512_bf16), else off; a resumed run keeps the precision it started "
             "with.")


@dataclasses.dataclass(frozen=True)
class Choice:
    """A ``--mixed_precision`` value and why it was taken (one line, for the log and
    ``config.json``)."""

    precision: str
    reason: str


def auto_precision(cpuinfo=CPUINFO, gpu_details=None):
    """``auto``'s ``Choice`` on this machine: by the GPUs' compute capability where there are
    GPUs (the run computes there), else by the CPU's flags read from ``cpuinfo``.
    ``gpu_details``: one ``tf.config.experimental.get_device_details`` dict per GPU (None: this
    machine's)."""
    gpus = visible_gpu_details() if gpu_details is None else gpu_details
    if gpus:
        return _gpu_choice(gpus)
    return _cpu_choice(cpu_flags(cpuinfo), cpuinfo)


def _gpu_choice(gpus):
    capability = min(tuple(gpu.get("compute_capability") or (0, 0)) for gpu in gpus)
    shown = ".".join(map(str, capability))
    needed = ".".join(map(str, BFLOAT16_COMPUTE_CAPABILITY))
    if capability >= BFLOAT16_COMPUTE_CAPABILITY:
        return Choice(BFLOAT16, f"auto: GPU compute capability {shown}, at least {needed}, "
                      "computes bfloat16 natively")
    return Choice(OFF, f"auto: GPU compute capability {shown}, below {needed}, has no "
                  "native bfloat16")


def _cpu_choice(found, cpuinfo):
    if found is None:
        return Choice(OFF, f"auto: {cpuinfo} cannot be read, so the CPU's bfloat16 support is "
                      "unknown")
    native = [flag for flag in BFLOAT16_CPU_FLAGS if flag in found]
    if native:
        return Choice(BFLOAT16, f"auto: the CPU has {' and '.join(native)}, native bfloat16")
    return Choice(OFF, f"auto: the CPU has neither {' nor '.join(BFLOAT16_CPU_FLAGS)}: bfloat16 "
                  "would be emulated, about 10x slower")


def cpu_flags(cpuinfo=CPUINFO):
    """The CPU's feature flags (the first ``flags`` line of ``cpuinfo``), or None when the file
    cannot be read (not Linux); an empty set when it names none (not x86)."""
    try:
        with open(cpuinfo) as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name.strip() == "flags":
                    return set(value.split())
    except OSError:
        return None
    return set()


def visible_gpu_details():
    """``tf.config.experimental.get_device_details`` of each GPU TensorFlow sees."""
    return [tf.config.experimental.get_device_details(gpu)
            for gpu in tf.config.list_physical_devices("GPU")]


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
