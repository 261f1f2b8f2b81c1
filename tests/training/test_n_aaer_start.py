"""N-AAER judges "abnormal" where its attack's step starts, as the reference does
(tmllab/2023_NeurIPS_AAER ``CIFAR10/AAER.py``: ``output_org`` and ``loss_before`` at
``X + delta``, the step's start), and logs the share of abnormal examples."""

import numpy as np
import tensorflow as tf

from tf_fastls0 import data as data_lib
from tf_fastls0.training import recipe as recipe_lib
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.run import build_trainer, train_and_evaluate

SMALL = dict(model="small_cnn", width=0.25, epochs=1, batch_size=32, train_eps=4, eval_eps=4,
             val_robust_examples=8, val_attack_iterations=2, verbose=0, method="n_aaer",
             data=data_lib.DataConfig(max_train_examples=64, max_eval_examples=16))


def reference_terms(output_org, output, y, lambda2=4.0, lambda3=1.5):
    """The reference's lines from ``output_org = output.detach()`` to the regulariser (lambda1
    left out), in numpy: the abnormal share and the regulariser."""
    def cross_entropy(logits):
        shifted = logits - logits.max(-1, keepdims=True)
        return -(shifted - np.log(np.exp(shifted).sum(-1, keepdims=True)))[np.arange(len(y)), y]

    loss_before, loss_after = cross_entropy(output_org), cross_entropy(output)
    abnormal_example = loss_before > loss_after
    normal_example = ~abnormal_example
    variation = ((output_org - output) ** 2).sum(-1)
    abnormal_ce = (loss_before - loss_after)[abnormal_example].mean()
    excess = max(variation[abnormal_example].mean() - variation[normal_example].mean(), 0.0)
    share = abnormal_example.mean()
    return share, share * (lambda2 * abnormal_ce + lambda3 * excess)


def test_abnormal_is_judged_at_the_attacks_start(monkeypatch):
    config = TrainConfig(**SMALL)
    splits = data_lib.load_data(config.data)
    trainer, _ = build_trainer(config, splits)
    images, labels, indices = next(iter(data_lib.training_dataset(
        splits.train, 32, 1, config.seed, augment=False)))
    batch = recipe_lib.prepare(trainer.recipe, trainer.network, {}, images, labels, indices,
                               tf.constant(0, tf.int64), 2)
    mask, magnitude = (t.numpy() for t in batch.start)
    noised = batch.images.numpy()
    start = noised + mask * magnitude  # the noised image with sPGD's random start on it
    assert np.all(mask.sum(axis=(1, 2, 3)) == config.train_eps)
    assert start.min() >= 0.0 and start.max() <= 1.0
    terms, _ = recipe_lib.loss(trainer.recipe, trainer.network, {}, batch, lambda *_: None)

    def forward(x):
        return trainer.network(x, training=True).numpy()  # as the loss's forwards: batch stats

    y = labels.numpy()
    output = forward(batch.adversarial)
    share, regulariser = reference_terms(forward(start), output, y)
    assert 0.0 < share < 1.0
    np.testing.assert_allclose(float(terms["abnormal_share"]), share, atol=1e-6)
    np.testing.assert_allclose(float(terms["abnormal_regulariser"]), regulariser, rtol=1e-4)
    # the noised image as the base (the earlier version) judges otherwise
    assert reference_terms(forward(noised), output, y) != (share, regulariser)


def test_the_abnormal_share_reaches_tensorboard_per_step_and_per_epoch(tmp_path):
    config = TrainConfig(**{**SMALL, "val_robust_examples": 0}, output_dir=str(tmp_path),
                         log_every_steps=1)
    train_and_evaluate(config)
    tags = set()
    for path in (tmp_path / "logs" / "train").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(value.tag for value in event.summary.value)
    assert {"step/abnormal_share", "epoch_abnormal_share"} <= tags
