"""The optimisers by name: ``sgd``, the paper's, and ``adamw``, with which the CIFAR-10 ConvNeXt
and Swin implementations that paper Table 10 follows train.

SGD as the paper's numbers were produced: PyTorch's momentum form with coupled L2 weight decay.

Keras' ``weight_decay`` is decoupled (subtracted from the weights after the step) and its momentum
buffer stores ``-lr * g``; SPEC §6 asks for the PyTorch rule instead, where the decay is an L2 term
added to the gradient before momentum and the buffer is learning-rate free:

    b <- momentum * b + (g + weight_decay * w);    w <- w - lr * b

The two differ whenever the learning rate changes (the step schedule) or decay is on, so we
implement the rule here rather than approximate it. ``update_step`` runs after the gradients of all
replicas have been summed, so the decay term is added once, not once per replica.

AdamW is Keras' own (``keras.optimizers.AdamW``): its decay is decoupled, w <- w - lr * wd * w
before the Adam step, as PyTorch's ``torch.optim.AdamW`` does it, on every trainable variable
(the references decay ``model.parameters()``, biases and norms included). The betas and epsilon
are PyTorch's defaults (Keras' epsilon is 1e-7). One deviation: Keras adds epsilon to sqrt(v)
before the bias correction of v, PyTorch after it, which differs only while v is of the order of
epsilon^2. Its moments are optimizer variables, so a checkpoint holds them and a resumed run
continues with them.
"""

import keras
from keras import ops

OPTIMIZERS = ("sgd", "adamw")
PYTORCH_ADAM_BETAS = (0.9, 0.999)
PYTORCH_ADAM_EPSILON = 1e-8


def optimizer_named(name, learning_rate, momentum, weight_decay):
    """``learning_rate`` may be a schedule; ``momentum`` is SGD's (Adam has its betas)."""
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay,
                                      beta_1=PYTORCH_ADAM_BETAS[0], beta_2=PYTORCH_ADAM_BETAS[1],
                                      epsilon=PYTORCH_ADAM_EPSILON)
    return SGDWithL2(learning_rate, momentum, weight_decay)


@keras.saving.register_keras_serializable(package="tf_fastls0")
class SGDWithL2(keras.optimizers.SGD):
    def __init__(self, learning_rate=0.05, momentum=0.9, l2=5e-4, name="sgd_with_l2", **kwargs):
        super().__init__(learning_rate=learning_rate, momentum=momentum, name=name, **kwargs)
        self.l2 = l2

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        buffer = self._next_buffer(gradient, variable)
        if self.momentum:
            self.assign(self.momentums[self._get_variable_index(variable)], buffer)
        self.assign_sub(variable, ops.multiply(learning_rate, buffer))

    def step_change(self, gradient, variable):
        """The change ``-lr * b`` a step with ``gradient`` would make to ``variable`` at the
        current learning rate, leaving the variable and the momentum buffer as they are (N-LAP's
        step on a copy, ``layer_aware.py``)."""
        learning_rate = ops.cast(self.learning_rate, variable.dtype)
        return ops.negative(ops.multiply(learning_rate, self._next_buffer(gradient, variable)))

    def _next_buffer(self, gradient, variable):
        """``momentum * b + (g + l2 * w)``: the buffer after a step (the L2 gradient without
        momentum)."""
        gradient = ops.cast(gradient, variable.dtype)
        if self.l2:
            gradient = ops.add(gradient, ops.multiply(ops.cast(self.l2, variable.dtype), variable))
        if self.momentum == 0:
            return gradient
        buffer = self.momentums[self._get_variable_index(variable)]
        return ops.add(ops.multiply(ops.cast(self.momentum, variable.dtype), buffer), gradient)

    def get_config(self):
        return {**super().get_config(), "l2": self.l2}


def loss_scaled(optimizer):
    """``optimizer`` with float16 training's dynamic loss scaling (``--mixed_precision=
    mixed_float16``): the train step differentiates ``optimizer.scale_loss(loss)``, the update
    unscales the gradients, and a step whose scaled gradients overflow halves the scale and
    leaves the weights alone. Such a step still counts, so the step counter keeps counting
    batches (the epoch, the schedule and every keyed draw follow it; a resumed run relies on it).
    """
    return CountingLossScaleOptimizer(optimizer)


class CountingLossScaleOptimizer(keras.optimizers.LossScaleOptimizer):
    """Keras' ``LossScaleOptimizer``, whose skipped (overflowing) steps also advance
    ``iterations``."""

    def _stateful_handle_non_finite_grads(self):
        super()._stateful_handle_non_finite_grads()
        self.inner_optimizer.iterations.assign_add(1)
