"""SGD as the paper's numbers were produced: PyTorch's momentum form with coupled L2 weight decay.

Keras' ``weight_decay`` is decoupled (subtracted from the weights after the step) and its momentum
buffer stores ``-lr * g``; SPEC §6 asks for the PyTorch rule instead, where the decay is an L2 term
added to the gradient before momentum and the buffer is learning-rate free:

    b <- momentum * b + (g + weight_decay * w);    w <- w - lr * b

The two differ whenever the learning rate changes (the step schedule) or decay is on, so we
implement the rule here rather than approximate it. ``update_step`` runs after the gradients of all
replicas have been summed, so the decay term is added once, not once per replica.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_fastls0")
class SGDWithL2(keras.optimizers.SGD):
    def __init__(self, learning_rate=0.05, momentum=0.9, l2=5e-4, name="sgd_with_l2", **kwargs):
        super().__init__(learning_rate=learning_rate, momentum=momentum, name=name, **kwargs)
        self.l2 = l2

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        if self.l2:
            gradient = ops.add(gradient, ops.multiply(ops.cast(self.l2, variable.dtype), variable))
        if self.momentum == 0:
            self.assign_sub(variable, ops.multiply(learning_rate, gradient))
            return
        buffer = self.momentums[self._get_variable_index(variable)]
        self.assign(buffer, ops.add(ops.multiply(ops.cast(self.momentum, variable.dtype), buffer),
                                    gradient))
        self.assign_sub(variable, ops.multiply(learning_rate, buffer))

    def get_config(self):
        return {**super().get_config(), "l2": self.l2}
