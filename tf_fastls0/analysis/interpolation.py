"""Accuracy along the segment from clean to adversarial inputs (SPEC section 8, paper Table 2).

The inputs are ``x + a * delta`` with ``delta = x_adv - x`` (e.g. from 1-step sPGD) for
a = 0, 0.1, ..., 1; they stay in [0, 1] because they lie between two images that do.
"""

import numpy as np
import tensorflow as tf

DEFAULT_ALPHAS = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))


def accuracy(model_fn, images, labels, batch_size=256):
    """Fraction of ``images`` that ``model_fn`` (images -> logits) classifies as ``labels``."""
    correct = 0
    for start in range(0, len(images), batch_size):
        logits = model_fn(tf.convert_to_tensor(images[start:start + batch_size]))
        predictions = tf.argmax(logits, axis=-1, output_type=tf.int32).numpy()
        correct += int(np.sum(predictions == np.asarray(labels[start:start + batch_size])))
    return correct / len(images)


def interpolation_accuracy(model_fn, images, labels, deltas, alphas=DEFAULT_ALPHAS, batch_size=256):
    """``{a: accuracy on x + a * delta}`` for each a in ``alphas``.

    Args:
      model_fn: images -> logits, e.g. ``lambda x: net(x, training=False)``.
      images: clean float ``[N, H, W, C]``; labels int ``[N]``; deltas ``x_adv - x``, like images.
    """
    images = np.asarray(images, np.float32)
    deltas = np.asarray(deltas, np.float32)
    return {float(alpha): accuracy(model_fn, images + np.float32(alpha) * deltas, labels, batch_size)
            for alpha in alphas}
