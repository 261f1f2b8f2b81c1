"""Distance between weight gradients at two perturbations of the same inputs (SPEC section 8, Table 5).

For example i: ``|| dL/dtheta(x_i + d1_i, y_i) - dL/dtheta(x_i + d2_i, y_i) ||_2`` over the
model's trainable weights, with the model in inference mode; the paper's figure is the mean over
examples (d1 from 1-step sPGD, d2 from a multi-step attack).
"""

import numpy as np
import tensorflow as tf

from tf_fastls0.losses import per_example


def _per_example_gradients(model, images, labels, loss):
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        losses = loss(labels, model(images, training=False))
    jacobians = tape.jacobian(losses, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return tf.concat([tf.reshape(j, [tf.shape(losses)[0], -1]) for j in jacobians], axis=1)


def _batch_distances(model, images, labels, first, second, loss):
    difference = (_per_example_gradients(model, images + first, labels, loss)
                  - _per_example_gradients(model, images + second, labels, loss))
    return tf.norm(difference, axis=1)


def per_example_gradient_distances(model, images, labels, first_deltas, second_deltas, batch_size=16,
                                   loss=per_example.cross_entropy, progress=None):
    """float ``[N]``: each example's gradient distance between its two perturbations.

    Per-example gradients are a Jacobian of ``batch_size x parameters`` floats: keep batches small
    for large models. ``progress``, if given, is called with the number of examples of each batch.
    """
    compute = tf.function(lambda x, y, d1, d2: _batch_distances(model, x, y, d1, d2, loss))
    distances = []
    for start in range(0, len(images), batch_size):
        part = slice(start, start + batch_size)
        distances.append(compute(*(tf.convert_to_tensor(np.asarray(a[part]))
                                   for a in (images, labels, first_deltas, second_deltas))).numpy())
        if progress is not None:
            progress(len(distances[-1]))
    return np.concatenate(distances)


def gradient_distance(model, images, labels, first_deltas, second_deltas, batch_size=16,
                      loss=per_example.cross_entropy):
    """The mean over examples of ``per_example_gradient_distances``."""
    return float(np.mean(per_example_gradient_distances(model, images, labels, first_deltas, second_deltas,
                                                        batch_size, loss)))
