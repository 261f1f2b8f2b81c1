"""Top Hessian eigenpairs of a loss w.r.t. a model's trainable weights (SPEC section 8).

Power iteration on Hessian-vector products (reverse-over-reverse: the gradient of
``<dL/dtheta, v>``), summed over the loss's parts (batches). Deflation keeps each new vector
orthogonal to the eigenvectors already found, so the k pairs come out in order of decreasing
|eigenvalue| (for the paper's trained networks the top ones are positive). The paper uses k = 10.
"""

import functools
from typing import List, NamedTuple

import numpy as np
import tensorflow as tf

from tf_fastls0.analysis import loss_parts
from tf_fastls0.analysis import weight_vectors
from tf_fastls0.utils import keyed_random


class Eigenpairs(NamedTuple):
    """``values`` float ``[k]``; ``vectors`` k weight vectors of unit norm; ``iterations`` ``[k]``."""
    values: np.ndarray
    vectors: List[List[tf.Tensor]]
    iterations: np.ndarray


def _part_hvp(model, part, vector):
    variables = model.trainable_variables
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            loss = part(model)
        grads = inner.gradient(loss, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        projection = weight_vectors.dot(grads, vector)
    return outer.gradient(projection, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)


def hessian_vector_product_fn(model, loss_fns):
    """A function ``v -> H v`` (weight vector in, weight vector out), H the Hessian of the summed parts."""
    compiled = [tf.function(functools.partial(_part_hvp, model, part))
                for part in loss_parts.as_parts(loss_fns)]

    def product(vector):
        per_part = [hvp(vector) for hvp in compiled]
        return [tf.add_n(list(pieces)) for pieces in zip(*per_part)]

    return product


def random_unit_vector(variables, seed=0, index=0, stream=keyed_random.STREAM_HESSIAN_START):
    """A keyed standard-normal weight vector scaled to unit norm (variable i drawn with key i)."""
    draws = [tf.reshape(keyed_random.normal([i], v.shape, seed, index, stream), v.shape)
             for i, v in enumerate(variables)]
    return weight_vectors.normalised(draws)


def top_eigenpairs(model, loss_fns, k=10, max_iterations=100, tolerance=1e-3, seed=0,
                   progress=None):
    """The k Hessian eigenpairs of largest |eigenvalue|, by deflated power iteration.

    Args:
      model: a Keras model; the Hessian is w.r.t. ``model.trainable_variables``.
      loss_fns: a callable ``loss(model) -> scalar`` or a sequence of parts whose sum is the loss.
      k: how many pairs (paper: 10).
      max_iterations: cap on power iterations per pair.
      tolerance: stop once the Rayleigh quotient changes by at most ``tolerance * |value|``.
      seed: seed of the random start vectors.
      progress: optional callable ``progress(index, iteration, value)`` after each iteration.
    """
    variables = model.trainable_variables
    hvp = hessian_vector_product_fn(model, loss_fns)
    values, vectors, iterations = [], [], []
    for index in range(k):
        vector = weight_vectors.normalised(
            weight_vectors.orthogonalised(random_unit_vector(variables, seed, index), vectors))
        value = None
        for iteration in range(1, max_iterations + 1):
            product = weight_vectors.orthogonalised(hvp(vector), vectors)
            new_value = float(weight_vectors.dot(product, vector))
            vector = weight_vectors.normalised(product)
            converged = value is not None and abs(new_value - value) <= tolerance * abs(value)
            value = new_value
            if progress is not None:
                progress(index, iteration, value)
            if converged:
                break
        values.append(value)
        vectors.append(vector)
        iterations.append(iteration)
    return Eigenpairs(np.array(values), vectors, np.array(iterations))
