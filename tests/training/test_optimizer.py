import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.training.optimizer import SGDWithL2
from tf_fastls0.training.schedule import step_decay


def pytorch_sgd(weights, gradients, learning_rates, momentum, l2):
    """PyTorch's SGD rule (SPEC §6), written out in numpy."""
    buffer = None
    for gradient, lr in zip(gradients, learning_rates):
        d = gradient + l2 * weights
        buffer = d if buffer is None else momentum * buffer + d
        weights = weights - lr * buffer
    return weights


def test_update_is_pytorch_sgd_with_coupled_l2_across_a_learning_rate_drop():
    rng = np.random.default_rng(0)
    initial = rng.normal(size=(3, 2)).astype(np.float32)
    gradients = [rng.normal(size=(3, 2)).astype(np.float32) for _ in range(8)]
    schedule = step_decay(0.1, total_steps=8)  # drops after steps 2 and 6
    variable = tf.Variable(initial)
    optimizer = SGDWithL2(schedule, momentum=0.9, l2=5e-3)
    for gradient in gradients:
        optimizer.apply([tf.constant(gradient)], [variable])
    rates = [float(schedule(step)) for step in range(8)]
    assert rates[0] == pytest.approx(0.1) and rates[-1] == pytest.approx(0.001)
    np.testing.assert_allclose(variable.numpy(), pytorch_sgd(initial, gradients, rates, 0.9, 5e-3),
                               rtol=1e-5, atol=1e-6)


def test_schedule_divides_by_ten_at_a_quarter_and_three_quarters():
    schedule = step_decay(0.05, total_steps=100)
    assert [round(float(schedule(s)), 6) for s in (0, 24, 25, 26, 74, 75, 76, 99)] == \
        [0.05, 0.05, 0.05, 0.005, 0.005, 0.005, 0.0005, 0.0005]


def test_a_constant_schedule_keeps_the_rate_where_the_paper_s_drops_it():
    from tf_fastls0.training.schedule import schedule_named

    assert float(schedule_named("constant", 0.05, total_steps=100)) == 0.05
    assert float(schedule_named("step", 0.05, total_steps=100)(30)) == pytest.approx(0.005)
