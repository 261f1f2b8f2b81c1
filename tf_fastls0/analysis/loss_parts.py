"""Losses on fixed inputs, split into per-batch parts whose sum is the data-set mean (SPEC section 8).

The analyses hold the perturbations fixed (the adversarial examples are made once, before), so a
part is a closure over one batch of inputs and labels that runs the model in inference mode.
"""

import functools

import tensorflow as tf

from tf_fastls0.losses import per_example


def _batch_share(model, images, labels, total, loss):
    losses = loss(labels, model(images, training=False))
    return tf.reduce_sum(losses) / total


def fixed_input_losses(images, labels, batch_size=128, loss=per_example.cross_entropy):
    """Parts ``part(model) -> scalar`` summing to the mean of ``loss`` over all ``images``.

    Args:
      images: float ``[N, H, W, C]`` in [0, 1], e.g. the adversarial examples.
      labels: int ``[N]`` (or whatever ``loss`` takes as its first argument).
      batch_size: examples per part.
      loss: per-example loss ``loss(labels, logits) -> [batch]``; cross-entropy by default.
    """
    images, labels = tf.convert_to_tensor(images), tf.convert_to_tensor(labels)
    total = float(images.shape[0])
    return [functools.partial(_batch_share, images=images[start:start + batch_size],
                              labels=labels[start:start + batch_size], total=total, loss=loss)
            for start in range(0, images.shape[0], batch_size)]


def as_parts(loss_fns):
    """A single callable becomes a one-part list; a sequence is returned as a list."""
    return [loss_fns] if callable(loss_fns) else list(loss_fns)


def compiled_parts(model, loss_fns):
    """One ``tf.function`` per part, each taking no argument (the model's variables are read live)."""
    return [tf.function(functools.partial(part, model)) for part in as_parts(loss_fns)]


def total_loss(compiled):
    """The loss: the sum of the compiled parts' values (a Python float)."""
    return float(tf.add_n([part() for part in compiled]))
