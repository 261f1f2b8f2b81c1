"""Learning-rate schedules by name: the paper's (divided by 10 at 1/4 and at 3/4 of the training
steps), a constant rate (to study what happens before the first drop, e.g. catastrophic
overfitting, in a short run), and cosine decay to 0 after a linear warm-up from 0, with which
the CIFAR-10 ConvNeXt and Swin implementations of paper Table 10 train.

The cosine schedule is Keras' ``CosineDecay``: the rate rises linearly from 0 over the warm-up
steps to the base rate (as the official ConvNeXt's warm-up does), then follows half a cosine to 0
over the remaining steps. It is evaluated at every step; a reference that steps its cosine once
an epoch (the Swin one) follows the same curve in a staircase.
"""

import keras

SCHEDULES = ("step", "constant", "cosine")


def schedule_named(name, base_learning_rate, total_steps, warmup_steps=0):
    """``warmup_steps`` is the cosine schedule's (the others have no warm-up)."""
    if name == "constant":
        return base_learning_rate
    if name == "cosine":
        return cosine_decay(base_learning_rate, total_steps, warmup_steps)
    return step_decay(base_learning_rate, total_steps)


def step_decay(base_learning_rate, total_steps):
    boundaries = [max(1, total_steps // 4), max(2, (3 * total_steps) // 4)]
    values = [base_learning_rate, base_learning_rate / 10, base_learning_rate / 100]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def cosine_decay(base_learning_rate, total_steps, warmup_steps):
    decay_steps = total_steps - warmup_steps
    if not warmup_steps:
        return keras.optimizers.schedules.CosineDecay(base_learning_rate, decay_steps)
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps, warmup_target=base_learning_rate, warmup_steps=warmup_steps)
