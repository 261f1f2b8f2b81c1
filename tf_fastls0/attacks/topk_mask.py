"""The sparse perturbation of Sparse-PGD (SPEC §2.2-2.3) with its custom gradient.

Forward: ``x + p * M``, where ``M = topk_mask(sigmoid(m), k)`` is 1 at the k largest entries of the
soft mask over the H*W positions of each image and is broadcast over the channels. The top-k has no
useful gradient, so the backward pass is the one of the sPGD paper (arXiv 2405.05075), with
``g = dL/d(x + p*M)``:

- unprojected: ``dL/dp = g * s`` (the soft mask ``s = sigmoid(m)``);
- projected:   ``dL/dp = g * M`` (the binary mask);
- both:        ``dL/ds = sum_C g * p`` and ``dL/dm = dL/ds * s * (1 - s)``; ``dL/dx = g``.

Over a structured threat (``threats.Threat``), the logits ``m`` and the top-k are per group
(``[B, G]``) and the pixel mask is the union of the chosen groups (``threat.to_pixels``); the soft
pixel mask of the unprojected variant is the largest soft mask of the groups holding the pixel, and
``dL/ds`` of a group sums ``sum_C g * p`` over its pixels (``threat.to_groups``).
"""

import tensorflow as tf


def topk_mask(scores, k):
    """A float mask ``[B, H, W, 1]``, 1 at the ``min(k, H*W)`` largest ``scores`` of each image.

    Ties (a saturated sigmoid gives many exact 1.0s) go to the lower flat index, so the count is
    always exact. ``scores``: ``[B, H, W, 1]``; ``k``: a static Python int >= 0.
    """
    shape = tf.shape(scores)
    positions = shape[1] * shape[2]
    flat = tf.reshape(scores, [shape[0], positions])
    static_positions = _static_positions(scores)
    k = min(int(k), static_positions) if static_positions is not None else tf.minimum(k, positions)
    _, chosen = tf.math.top_k(flat, k=k)
    rows = tf.broadcast_to(tf.range(shape[0])[:, tf.newaxis], tf.shape(chosen))
    indices = tf.stack([rows, chosen], axis=-1)
    ones = tf.ones(tf.shape(chosen), scores.dtype)
    return tf.reshape(tf.scatter_nd(indices, ones, tf.shape(flat)), shape)


def sparse_perturbation(images, magnitude, mask_logits, k, projected, mask=None):
    """``images + magnitude * topk_mask(sigmoid(mask_logits), k)`` with the sPGD gradient.

    Args:
      images: ``[B, H, W, C]`` clean images ``x``.
      magnitude: ``[B, H, W, C]`` perturbation magnitudes ``p``.
      mask_logits: ``[B, H, W, 1]`` mask logits ``m``.
      k: the l0 budget in pixels (static int).
      projected: Python bool or scalar bool tensor; picks ``dL/dp = g*M`` (True) or ``g*s``.
      mask: the binary mask if the caller already has it (saves a top-k); must equal
        ``topk_mask(sigmoid(mask_logits), k)``.

    Returns the perturbed images ``[B, H, W, C]``; differentiable w.r.t. all three tensors.
    """
    soft = tf.sigmoid(mask_logits)
    if mask is None:
        mask = topk_mask(soft, k)
    mask = tf.stop_gradient(mask)

    @tf.custom_gradient
    def perturb(images, magnitude, mask_logits):
        def grad(upstream):
            magnitude_weight = _select(projected, mask, soft)
            soft_grad = tf.reduce_sum(upstream * magnitude, axis=-1, keepdims=True)
            return upstream, upstream * magnitude_weight, soft_grad * soft * (1.0 - soft)

        return images + magnitude * mask, grad

    return perturb(images, magnitude, mask_logits)


def group_topk(scores, k):
    """A float mask ``[B, G]``, 1 at the ``min(k, G)`` largest ``scores`` of each row (ties to the
    lower index); ``k``: a static Python int >= 0."""
    groups = scores.shape[1]
    _, chosen = tf.math.top_k(scores, k=min(int(k), groups))
    return tf.reduce_sum(tf.one_hot(chosen, groups, dtype=scores.dtype), axis=1)


def structured_perturbation(images, magnitude, group_logits, k, projected, threat, mask=None):
    """``images + magnitude * threat.to_pixels(group_topk(sigmoid(group_logits), k))`` with the
    sPGD gradient over groups (module docstring).

    ``group_logits``: ``[B, G]``; ``mask``: the ``[B, G]`` group mask if the caller has it.
    """
    soft = tf.sigmoid(group_logits)
    if mask is None:
        mask = group_topk(soft, k)
    pixel_mask = tf.stop_gradient(threat.to_pixels(mask))

    @tf.custom_gradient
    def perturb(images, magnitude, group_logits):
        def grad(upstream):
            magnitude_weight = _select(projected, pixel_mask, threat.to_pixels(soft))
            soft_grad = threat.to_groups(tf.reduce_sum(upstream * magnitude, axis=-1,
                                                       keepdims=True))
            return upstream, upstream * magnitude_weight, soft_grad * soft * (1.0 - soft)

        return images + magnitude * pixel_mask, grad

    return perturb(images, magnitude, group_logits)


def _select(projected, if_true, if_false):
    if isinstance(projected, bool):
        return if_true if projected else if_false
    return tf.where(tf.cast(projected, tf.bool), if_true, if_false)


def _static_positions(tensor):
    height, width = tensor.shape[1], tensor.shape[2]
    if height is None or width is None:
        return None
    return height * width
