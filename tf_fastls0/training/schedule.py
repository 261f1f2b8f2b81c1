"""Learning-rate schedules by name: the paper's (divided by 10 at 1/4 and at 3/4 of the training
steps) and a constant rate (to study what happens before the first drop, e.g. catastrophic
overfitting, in a short run)."""

import keras

SCHEDULES = ("step", "constant")


def schedule_named(name, base_learning_rate, total_steps):
    if name == "constant":
        return base_learning_rate
    return step_decay(base_learning_rate, total_steps)


def step_decay(base_learning_rate, total_steps):
    boundaries = [max(1, total_steps // 4), max(2, (3 * total_steps) // 4)]
    values = [base_learning_rate, base_learning_rate / 10, base_learning_rate / 100]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
