import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.training.optimizer import SGDWithL2, optimizer_named
from tf_fastls0.training.schedule import cosine_decay, schedule_named, step_decay


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
    assert float(schedule_named("constant", 0.05, total_steps=100)) == 0.05
    assert float(schedule_named("step", 0.05, total_steps=100)(30)) == pytest.approx(0.005)


def tiny_config(**changes):
    from tf_fastls0 import data as data_lib
    from tf_fastls0.training.config import TrainConfig

    return TrainConfig(model="small_cnn", width=0.25, epochs=5, batch_size=16,
                       data=data_lib.DataConfig(max_train_examples=32, max_eval_examples=16),
                       **changes)  # 2 steps per epoch


def built_optimizer(config):
    from tf_fastls0 import data as data_lib
    from tf_fastls0.training.run import build_trainer

    return build_trainer(config, data_lib.load_data(config.data))[1]


def test_adamw_and_cosine_are_keras_own_with_the_flag_values():
    optimizer = built_optimizer(tiny_config(optimizer="adamw", lr_schedule="cosine",
                                            warmup_epochs=2, learning_rate=1e-3,
                                            weight_decay=0.05))
    assert type(optimizer) is keras.optimizers.AdamW
    assert (optimizer.weight_decay, optimizer.beta_1, optimizer.beta_2, optimizer.epsilon) == \
        (0.05, 0.9, 0.999, 1e-8)  # PyTorch's AdamW defaults
    schedule = optimizer._learning_rate
    assert type(schedule) is keras.optimizers.schedules.CosineDecay
    expected = {"initial_learning_rate": 0.0, "warmup_target": 1e-3, "warmup_steps": 4,
                "decay_steps": 6, "alpha": 0.0}  # 2 of 5 epochs of 2 steps warm up
    assert {key: schedule.get_config()[key] for key in expected} == expected


def test_sgd_and_the_step_schedule_stay_the_default():
    optimizer = built_optimizer(tiny_config())
    assert type(optimizer) is SGDWithL2
    assert (optimizer.momentum, optimizer.l2) == (0.9, 5e-4)
    assert type(optimizer._learning_rate) is keras.optimizers.schedules.PiecewiseConstantDecay


def pytorch_adamw(weights, gradients, learning_rates, weight_decay, betas=(0.9, 0.999), eps=1e-8):
    """``torch.optim.AdamW``'s rule, written out in numpy."""
    m = v = np.zeros_like(weights)
    for t, (gradient, lr) in enumerate(zip(gradients, learning_rates), start=1):
        weights = weights * (1 - lr * weight_decay)
        m = betas[0] * m + (1 - betas[0]) * gradient
        v = betas[1] * v + (1 - betas[1]) * gradient ** 2
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        weights = weights - lr * m_hat / (np.sqrt(v_hat) + eps)
    return weights


def test_adamw_decays_the_weights_apart_from_the_gradient_as_pytorch_s_adamw():
    rng = np.random.default_rng(0)
    initial = rng.normal(size=(3, 2)).astype(np.float32)
    gradients = [rng.normal(size=(3, 2)).astype(np.float32) for _ in range(8)]
    schedule = cosine_decay(0.1, total_steps=8, warmup_steps=3)
    variable = tf.Variable(initial)
    optimizer = optimizer_named("adamw", schedule, momentum=0.9, weight_decay=0.5)
    for gradient in gradients:
        optimizer.apply([tf.constant(gradient)], [variable])
    rates = [float(schedule(step)) for step in range(8)]
    expected = pytorch_adamw(initial.astype(np.float64), gradients, rates, 0.5)
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5, atol=1e-6)
    coupled = pytorch_adamw(initial.astype(np.float64),
                            [g + 0.5 * initial for g in gradients], rates, 0.0)
    assert np.max(np.abs(expected - coupled)) > 1e-2  # decoupled decay is another rule


def test_the_cosine_schedule_warms_up_linearly_from_zero_then_falls_to_zero():
    schedule = cosine_decay(0.001, total_steps=104, warmup_steps=4)
    rates = [float(schedule(step)) for step in (0, 1, 2, 4, 54, 104, 200)]
    np.testing.assert_allclose(rates, [0.0, 0.00025, 0.0005, 0.001, 0.0005, 0.0, 0.0],
                               atol=1e-9)
    without_warmup = schedule_named("cosine", 0.001, total_steps=100)
    np.testing.assert_allclose([float(without_warmup(s)) for s in (0, 50, 100)],
                               [0.001, 0.0005, 0.0], atol=1e-9)
