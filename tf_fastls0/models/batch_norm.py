"""BatchNormalization that runs TensorFlow's fused kernel where it can: Keras' layer, one op.

Keras 3's ``BatchNormalization`` on the TensorFlow backend is not fused: moments, the moving-
average updates and the normalisation are separate ops (in PreAct ResNet-18's standard step, half
of the graph's ops; many small kernels on a GPU without XLA). This subclass computes the same
thing with ``FusedBatchNormV3`` (``tf.compat.v1.nn.fused_batch_norm``) for 4-D channels-last
inputs, in training and inference mode, and is Keras' own layer everywhere else.

What stays exactly Keras':
- the variables: ``gamma``, ``beta``, ``moving_mean``, ``moving_variance``, built by the parent
  under the same names, so checkpoints and ``.keras`` files written with Keras' layer load into
  this one and the other way round (the weights are the same; only the config's class differs);
- the class name, ``BatchNormalization`` (registered as ``tf_fastls0>BatchNormalization``), so
  code that tells layers apart by ``type(layer).__name__`` (``interop/pytorch.py``) sees no
  difference. A ``.keras`` file saved with it needs ``tf_fastls0.models`` imported to load; the
  export (``precision.float32``) puts Keras' own layer in its place, so an exported model loads
  with Keras alone (and, loaded, computes with Keras' unfused layer);
- the momentum rule: ``moving = moving * momentum + batch * (1 - momentum)``, with the *biased*
  batch variance, as Keras has it. The fused kernel returns the batch variance with Bessel's
  correction (``n / (n - 1)``, what it would put into a moving variance itself); it is scaled
  back by ``(n - 1) / n`` and the moving averages are updated here, not by the kernel, so a run
  resumed from a checkpoint written by Keras' layer continues with the same statistics;
- the normalisation uses the biased batch variance in training, the moving statistics in
  inference, and ``epsilon``; the dtype: under a mixed policy the input is cast to float32 first,
  as Keras does (``FusedBatchNormV3`` would take bfloat16/float16 inputs with float32
  parameters, but this keeps the mixed-precision numbers equal to Keras' within float32
  rounding rather than the low precision's), and the output goes back to the compute dtype.

Where it is Keras' layer unchanged: inputs that are not 4-D, an axis other than the last,
``synchronized=True`` (cross-replica statistics, ``--sync_batchnorm``), ``renorm``, a ``mask``,
``center=False`` or ``scale=False``, a symbolic ``training`` flag, and a non-TensorFlow backend.

Results equal Keras' layer within float32 rounding (outputs, gradients, moving statistics; the
kernel sums in a different order), not bit for bit: ``tests/models/test_batch_norm.py``.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tf_fastls0")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` computed by the fused kernel where it applies."""

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, tf.float32)
        if training and self.trainable:
            outputs, batch_mean, batch_variance = _fused(
                x, self.gamma, self.beta, self.epsilon, is_training=True)
            count = _values_per_channel(x)
            # The kernel's variance carries Bessel's correction; Keras' moving average takes the
            # biased one.
            biased_variance = batch_variance * ((count - 1.0) / tf.maximum(count, 1.0))
            self.moving_mean.assign(
                self.moving_mean * self.momentum + batch_mean * (1.0 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum + biased_variance * (1.0 - self.momentum))
        else:
            outputs, _, _ = _fused(x, self.gamma, self.beta, self.epsilon, is_training=False,
                                   mean=self.moving_mean, variance=self.moving_variance)
        return tf.cast(outputs, self.compute_dtype)

    def _fusable(self, inputs, training, mask):
        return (keras.backend.backend() == "tensorflow" and len(inputs.shape) == 4
                and self.axis in (-1, 3) and not self.synchronized and not self.renorm
                and mask is None and self.center and self.scale
                and (training is None or isinstance(training, bool)))


def _values_per_channel(x):
    """How many values each channel's statistics average (batch x height x width), float32."""
    if x.shape[:-1].is_fully_defined():
        return float(x.shape[:-1].num_elements())
    return tf.cast(tf.size(x) // tf.shape(x)[-1], tf.float32)


def _fused(x, gamma, beta, epsilon, is_training, mean=None, variance=None):
    """``FusedBatchNormV3`` on NHWC float32 ``x``: (outputs, batch mean, batch variance with
    Bessel's correction) in training, (outputs, -, -) given the moving statistics otherwise.

    The raw op, not ``tf.compat.v1.nn.fused_batch_norm``: that wrapper raises ``epsilon`` to at
    least 1.001e-5 (an old cuDNN limit), and our networks use PyTorch's 1e-5."""
    if mean is None:
        mean = variance = tf.constant([], tf.float32)
    outputs, batch_mean, batch_variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
        x=x, scale=tf.convert_to_tensor(gamma), offset=tf.convert_to_tensor(beta),
        mean=tf.convert_to_tensor(mean), variance=tf.convert_to_tensor(variance),
        epsilon=epsilon, exponential_avg_factor=1.0, data_format="NHWC", is_training=is_training)
    return outputs, batch_mean, batch_variance
