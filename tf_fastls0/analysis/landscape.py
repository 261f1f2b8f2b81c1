"""Loss landscape ``L(theta + a v1 + b v2)`` on a grid (SPEC section 8; Li et al. NeurIPS 2018).

The paper's directions are the top two Hessian eigenvectors (``hessian.top_eigenpairs``); random
filter-normalised directions are the usual alternative.
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tf_fastls0.analysis import loss_parts
from tf_fastls0.analysis import weight_vectors
from tf_fastls0.utils import keyed_random


class LossGrid(NamedTuple):
    """``losses[i, j] = L(theta + alphas[i] v1 + betas[j] v2)``; ``alphas``, ``betas`` ``[steps]``."""
    alphas: np.ndarray
    betas: np.ndarray
    losses: np.ndarray


def _filter_norms(tensor, axes):
    return tf.sqrt(tf.reduce_sum(tf.square(tensor), axis=axes, keepdims=True))


def filter_normalised_direction(variables, seed=0, index=0):
    """A random direction with each filter scaled to its weights' norm (Li et al. 2018).

    A filter is a slice along the last axis (Keras kernels keep output units last). 1-D variables
    (biases, BatchNorm scales and offsets) get no perturbation, as in Li et al.'s usual setting.
    ``index`` tells independent directions apart (0 for v1, 1 for v2).
    """
    direction = []
    for key, variable in enumerate(variables):
        if variable.shape.rank <= 1:
            direction.append(tf.zeros_like(variable))
            continue
        draw = tf.reshape(keyed_random.normal([key], variable.shape, seed, index,
                                              keyed_random.STREAM_LANDSCAPE_DIRECTION), variable.shape)
        axes = list(range(variable.shape.rank - 1))
        scale = tf.math.divide_no_nan(_filter_norms(variable, axes), _filter_norms(draw, axes))
        direction.append(draw * scale)
    return direction


def loss_grid(model, loss_fns, directions, steps=21, extent=1.0, progress=None):
    """Evaluates the loss on a ``steps x steps`` grid over ``[-extent, extent]^2``.

    Args:
      model: a Keras model; its trainable weights are moved and restored afterwards.
      loss_fns: a callable ``loss(model) -> scalar`` or parts summing to the loss.
      directions: two weight vectors (v1, v2), e.g. ``eigenpairs.vectors[:2]``.
      steps: grid points per axis (odd, so that the centre is theta itself).
      extent: the largest coefficient along each direction.
      progress: optional callable ``progress(i, j, loss)`` after each grid point.
    """
    variables = model.trainable_variables
    origin = weight_vectors.values_of(variables)
    compiled = loss_parts.compiled_parts(model, loss_fns)
    alphas = np.linspace(-extent, extent, steps)
    betas = np.linspace(-extent, extent, steps)
    losses = np.zeros([steps, steps])
    first, second = directions
    try:
        for i, alpha in enumerate(alphas):
            shifted = weight_vectors.add_scaled(origin, first, float(alpha))
            for j, beta in enumerate(betas):
                weight_vectors.assign(variables, weight_vectors.add_scaled(shifted, second, float(beta)))
                losses[i, j] = loss_parts.total_loss(compiled)
                if progress is not None:
                    progress(i, j, losses[i, j])
    finally:
        weight_vectors.assign(variables, origin)
    return LossGrid(alphas, betas, losses)
