"""The paper's learning-rate schedule: divided by 10 at 1/4 and at 3/4 of the training steps."""

import keras


def step_decay(base_learning_rate, total_steps):
    boundaries = [max(1, total_steps // 4), max(2, (3 * total_steps) // 4)]
    values = [base_learning_rate, base_learning_rate / 10, base_learning_rate / 100]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
