"""Sparse-PGD (sPGD), the white-box l0 attack of Zhong et al., ICML 2024 (arXiv 2405.05075).

Follows SPEC §2, the project's algorithm reference.

Each image carries a magnitude ``p`` ``[H, W, C]`` and mask logits ``m`` ``[H, W, 1]``; the attacked
input is ``x + p * topk_mask(sigmoid(m), eps)`` (``topk_mask.sparse_perturbation``). Per step:
``p <- clip(p + alpha * sign(dL/dp))`` into ``[-1, 1]`` and the box ``[-x, 1 - x]``, and
``m <- m + beta * sqrt(H*W) * dL/dm / ||dL/dm||_2`` (no mask step where the norm is below 2e-10).
Each image keeps its best input, starting from the clean image with its clean loss; an iterate
replaces it where its loss is >= the best loss or where it is fooled. Fooled images stop (early
stop), images fooled before the attack are returned unchanged, and an unfooled image whose binary
mask has stayed the same for ``patience`` steps draws fresh mask logits (restart).

Restarts follow the sAA reference code (CityU-MLO/sPGD, ``SparsePGD.__call__``; SPEC §2.6): a
step first moves (p, m) with the previous evaluation's gradients, then evaluates (forward, loss,
gradients, best-tracking, early stop), and only then counts: each image still attacked whose
binary mask this step left the same gains one; if no image still attacked kept its mask, every
still-attacked image's counter goes back to 0. So within one call the counter is of unchanged
steps, not of consecutive ones, and it couples the images of the call: with ``patience >= 2`` an
image's restarts can depend on the other images in the batch, as in the reference (evaluation
keeps each image in the same batch across shards and resumes; under ``tf.distribute`` the batch is
the replica's). An image that reaches ``patience`` gets fresh N(0, 1) mask logits (p is kept) and
a zero counter; the next step moves the fresh logits with the gradient taken before the restart.
The counter compares the top-k of the raw mask logits, as the reference's ``project_mask`` does,
not the perturbation's top-k of their sigmoid: logits reach 14-16 within 100 steps, where float32
rounds neighbouring sigmoids to one value and the sigmoid's top-k would see a tie where the
logits' order moved. Deviations: the fresh logits are keyed draws (example key, step; see
keyed_random) rather than the reference's global ``torch.randn``; ties among raw logits go to the
lower flat index (``torch.sort`` leaves their order unspecified); ``patience=None`` never
restarts.

Losses: ``"ce"`` (hard labels), ``"soft_ce"`` (CE to ``soft_targets``; SAT), ``"kl"``
(``KL(softmax f(x) || softmax f(x_adv))`` with the clean logits fixed; sTRADES mode F; every image
is attacked for all steps and labels only serve ``is_adversarial``) and ``"targeted_ce"``
(``-CE`` to ``target_labels``; "fooled" then means "classified as the target").

Structured threats (``threat``, see ``threats``): ``eps`` counts structures (patches, lines,
groups); the mask logits ``m`` are per group ``[B, G]`` and the magnitude ``p`` stays per pixel;
the top-k is over groups and the pixel mask is the union of the chosen groups (``topk_mask.
structured_perturbation``); restarts redraw the group logits and the mask step is normalised to
``beta * sqrt(G)``. The authors' group-sparse extension of sPGD was not in the reference corpus
available here, so this follows the pixel algorithm with the group map in place of the identity;
deviations it may have from theirs: the soft pixel mask of the unprojected variant is the largest
soft mask of the groups holding a pixel, and a group's mask gradient is the sum over its pixels.
``threat=None`` or a ``pixels`` threat runs the pixel code itself (the same results as before).

Carried start (ATTA, ``training/atta_buffer.py``): ``initial=(mask, magnitude)`` starts the
attack from a given sparse perturbation instead of a random one. The random start is drawn as
usual; the ``mask`` pixels then take the given magnitudes (clipped into the box) and mask logits
``CARRIED_LOGIT_MARGIN`` above the image's largest drawn logit, so the start's top-k mask holds
them all (the caller gives at most ``eps``) and fills any free places with the drawn logits'
best. Pixel threats only. ``initial=None`` draws exactly what it drew before.
``SparsePGDResult.last_iterate`` is ``(mask [B, H, W, 1], magnitude)`` of the attack's last
iterate (not necessarily the returned image: that may be the clean one), what ATTA carries on;
``SparsePGDResult.start`` the same of its start (the random start, with any carried pixels),
where N-AAER judges whether the step lowered the loss (``losses/aaer.py``).

Cost: ``iterations`` forward+backward passes, one forward to score the last iterate, and one
clean forward unless ``clean_logits`` is given. The iterate scored by each step's forward is the
one the next step's gradient is taken at, so no backward pass is wasted; ``iterations=1`` is one
forward+backward at the random start, one update and one forward. With ``compact``, images
fooled before the attack leave before the first forward+backward, and the last forward runs on
the images still attacked only (none when all have stopped). The interface (model, arrays,
keyword names) is every attack's (``common``); ``steps=`` is the old name of ``iterations=``.
"""

from typing import NamedTuple

import tensorflow as tf

from tf_fastls0.attacks import common, compaction, paper_budget
from tf_fastls0.attacks.outputs import expand_like, in_input_dtype
from tf_fastls0.attacks.topk_mask import (group_topk, sparse_perturbation,
                                          structured_perturbation, topk_mask)
from tf_fastls0.losses import per_example
from tf_fastls0.utils import keyed_random

LOSSES = ("ce", "soft_ce", "kl", "targeted_ce")
MIN_MASK_GRAD_NORM = 2e-10
# A carried pixel's start logit above the largest drawn one: four times the root-mean-square
# mask step (beta = 0.25), so one step keeps a carried pixel unless its gradient pushes hard.
CARRIED_LOGIT_MARGIN = 1.0


class SparsePGDResult(NamedTuple):
    adversarial: tf.Tensor  # [B, H, W, C], the images' dtype: each image's best input
    is_adversarial: tf.Tensor  # [B] bool: the returned image is misclassified (targeted: as target)
    loss: tf.Tensor  # [B] float32: the attack loss of the returned image
    logits: tf.Tensor  # [B, K] float32: model_fn's logits of the returned image
    passes: tf.Tensor  # [B] int32: forward+backward passes the image was attacked with
    # (binary pixel mask [B, H, W, 1], magnitude [B, H, W, C]) of the last iterate, and of the
    # start; None with compact=True or eps or iterations 0
    last_iterate: tuple = None
    start: tuple = None


class _Best(NamedTuple):
    """Each image's best input so far, with its loss, logits and success flag, and the
    forward+backward passes spent on the image."""
    images: tf.Tensor
    loss: tf.Tensor
    logits: tf.Tensor
    fooled: tf.Tensor
    passes: tf.Tensor


class _Iterate(NamedTuple):
    """The attack state between steps: (p, m), the binary mask, the gradients at the current
    iterate, the restart counter (unchanged-mask steps, SPEC §2.6), and which images are still
    attacked."""
    magnitude: tf.Tensor  # [B, H, W, C]
    mask_logits: tf.Tensor  # [B, H, W, 1]; [B, G] over a structured threat
    mask: tf.Tensor  # the binary mask, the logits' shape
    ranked: tf.Tensor  # the top-k of the raw logits, which the restart counter compares
    magnitude_grad: tf.Tensor
    mask_grad: tf.Tensor
    unchanged: tf.Tensor  # [B] int32
    active: tf.Tensor  # [B] bool


def sparse_pgd(model, images, labels, *, eps, iterations=paper_budget.ITERATIONS, projected=False,
               loss="ce", soft_targets=None, clean_logits=None, target_labels=None,
               patience=paper_budget.PATIENCE, alpha=0.25, beta=0.25, keys=None, seed=0, counter=0,
               compact=False, threat=None, initial=None, steps=None):
    """Runs sPGD on a batch; defaults are the paper's evaluation settings.

    Args:
      model: a ``keras.Model`` (run in inference mode) or a callable images ``[B, H, W, C]`` in
        [0, 1] -> logits ``[B, K]`` in inference mode.
      images: ``[B, H, W, C]`` float in [0, 1], numpy or a tensor.
      labels: int ``[B]`` true labels (may be None for ``loss="kl"``).
      eps: l0 budget (static int >= 0): pixels, or the structures of ``threat``.
      iterations: iterations t (static int >= 0; default: the paper's evaluation budget,
        ``paper_budget.ITERATIONS``); ``steps``: its old name (deprecated).
      projected: gradient variant (SPEC §2.3); Python bool or scalar bool tensor.
      loss: one of ``LOSSES``.
      soft_targets: float ``[B, K]``, required by ``"soft_ce"``.
      target_labels: int ``[B]``, required by ``"targeted_ce"``.
      patience: unchanged-mask steps before a restart (3 in evaluation, 10 in training); None:
        never restart.
      alpha, beta: magnitude and mask step sizes.
      keys, seed, counter, clean_logits, compact: the shared settings (``common``); ``compact``
        is off by default because training may compile its attack with XLA (static shapes).
      threat: a ``threats.Threat`` for a structured threat; None (pixels) by default.
      initial: ``(mask [B, H, W, 1], magnitude [B, H, W, C])``: start from this sparse
        perturbation (at most ``eps`` pixels per image) instead of a random one; pixels only.

    Returns a ``SparsePGDResult``.
    """
    steps = common.iterations_from(iterations, steps, "sparse_pgd", paper_budget.ITERATIONS)
    eps, steps = _check_arguments(eps, steps, loss, labels, soft_targets, target_labels)
    clean = common.prepare(model, images, labels, attack="sparse_pgd", keys=keys,
                           clean_logits=clean_logits)
    model_fn, images, x, keys, clean_logits = (clean.model_fn, clean.images, clean.x, clean.keys,
                                               clean.logits)
    batch = clean.batch
    labels = (tf.argmax(clean_logits, axis=-1, output_type=tf.int32) if labels is None
              else clean.labels)
    rows = _rows(x, keys, labels, soft_targets, target_labels, clean_logits)
    objective = _objective(loss)
    succeeded = _success_test(loss)
    masks = _masks(threat)
    if initial is not None and masks is not _PixelMasks:
        raise ValueError("initial= is supported under the pixel threat only")

    clean_fooled = succeeded(clean_logits, rows)
    active = tf.ones_like(clean_fooled) if loss == "kl" else tf.logical_not(clean_fooled)
    best = _Best(x, objective(clean_logits, rows), clean_logits, clean_fooled,
                 tf.zeros([batch], tf.int32))
    if eps == 0 or steps == 0:
        return _result(best, images, x)
    best = best._replace(passes=tf.cast(active, tf.int32))  # the gradient at the random start

    def evaluate(rows, magnitude, mask_logits, mask):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([magnitude, mask_logits])
            perturbed = masks.perturb(rows.x, magnitude, mask_logits, eps, projected, mask)
            logits = model_fn(perturbed)
            losses = objective(logits, rows)
        magnitude_grad, mask_grad = tape.gradient(losses, [magnitude, mask_logits])
        return perturbed, logits, losses, magnitude_grad, mask_grad

    def step(rows, state):
        """Updates (p, m) from the last gradients; returns the new state and, per image, whether
        its binary mask stayed the same."""
        magnitude, mask_logits = _update(rows.x, state, alpha, beta)
        mask = masks.topk(mask_logits, eps)
        ranked = counted_topk(mask_logits)
        same = _same_mask(ranked, state.ranked)
        return state._replace(magnitude=magnitude, mask_logits=mask_logits, mask=mask,
                              ranked=ranked), same

    def counted_topk(mask_logits):
        """The raw logits' top-k, or a placeholder when nothing counts (``patience=None``)."""
        return masks.raw_topk(mask_logits, eps) if patience is not None else mask_logits[..., :0]

    def count_and_restart(i, rows, state, same):
        """After an evaluation (SPEC §2.6): counts the images still attacked whose mask stayed the
        same, and gives fresh mask logits to those that reach ``patience``."""
        if patience is None:
            return state
        stuck = tf.logical_and(state.active, same)
        unchanged = tf.where(tf.reduce_any(stuck), state.unchanged + tf.cast(stuck, tf.int32),
                             tf.where(state.active, 0, state.unchanged))
        restart = tf.logical_and(unchanged >= patience, state.active)
        mask_logits, mask, ranked = tf.cond(
            tf.reduce_any(restart),
            lambda: _restart(state, restart, rows.keys, eps, seed, counter, i, masks),
            lambda: (state.mask_logits, state.mask, state.ranked))
        return state._replace(mask_logits=mask_logits, mask=mask, ranked=ranked,
                              unchanged=tf.where(restart, 0, unchanged))

    def track(best, state, perturbed, logits, losses, rows):
        """The iterate replaces the best where its loss is >= the best's or it is fooled."""
        fooled = succeeded(logits, rows)
        better = losses >= best.loss
        active = state.active
        if loss != "kl":
            better = tf.logical_or(better, fooled)
            active = tf.logical_and(active, tf.logical_not(fooled))  # early stop
        take = tf.logical_and(state.active, better)
        best = _Best(*(tf.where(expand_like(take, old), new, old)
                       for old, new in zip(best[:4], (perturbed, losses, logits, fooled))),
                     passes=best.passes)
        return best, state._replace(active=active)

    def body(i, work, finished):
        work, finished = common.maybe_compact(compact, work, finished, work.state.active,
                                              lambda work: work.best)
        state, same = step(work.rows, work.state)
        perturbed, logits, losses, magnitude_grad, mask_grad = evaluate(
            work.rows, state.magnitude, state.mask_logits, state.mask)
        best = work.best._replace(passes=work.best.passes + tf.cast(state.active, tf.int32))
        best, state = track(best, state, perturbed, logits, losses, work.rows)
        state = count_and_restart(i, work.rows, state, same)
        state = state._replace(magnitude_grad=magnitude_grad, mask_grad=mask_grad)
        return i + 1, _Work(work.rows, state, best), finished

    def keep_going(i, work, finished):
        return tf.logical_and(i < steps, tf.reduce_any(work.state.active))

    magnitude, mask_logits = _random_start(x, keys, seed, counter, masks)
    if initial is not None:
        magnitude, mask_logits = _carried_start(x, magnitude, mask_logits, *initial)
    mask = masks.topk(mask_logits, eps)
    start = (masks.pixel_mask(mask), magnitude)
    # (the gradients' places hold placeholders of their shapes until the first evaluation)
    state = _Iterate(magnitude, mask_logits, mask, counted_topk(mask_logits), magnitude,
                     mask_logits, unchanged=tf.zeros([batch], tf.int32), active=active)
    work, finished, i = _Work(rows, state, best), best, tf.constant(1)
    # Images fooled before the attack leave before its first forward+backward.
    work, finished = common.maybe_compact(compact, work, finished, active, lambda work: work.best)
    _, _, _, magnitude_grad, mask_grad = evaluate(work.rows, work.state.magnitude,
                                                  work.state.mask_logits, work.state.mask)
    work = work._replace(state=work.state._replace(magnitude_grad=magnitude_grad,
                                                   mask_grad=mask_grad))
    if steps > 1:
        i, work, finished = common.loop(keep_going, body, i, work, finished, compact)

    def last_step(work):
        """The last step needs only a forward pass: its gradient would never be used."""
        state, _ = step(work.rows, work.state)
        perturbed = work.rows.x + state.magnitude * masks.pixel_mask(state.mask)
        logits = model_fn(perturbed)
        best, _ = track(work.best, state, perturbed, logits, objective(logits, work.rows),
                        work.rows)
        return best, state

    if compact:
        # Only active images can take the last iterate: on the active rows' bucket, and not at
        # all when every image has stopped (the loop's usual end once all are fooled).
        work, finished = common.maybe_compact(True, work, finished, work.state.active,
                                              lambda work: work.best)
        best = tf.cond(tf.reduce_any(work.state.active), lambda: last_step(work)[0],
                       lambda: work.best)
        best = compaction.scatter_rows(finished, work.rows.index, best)
        return _result(best, images, x)
    best, state = last_step(work)
    return _result(best, images, x)._replace(
        last_iterate=(masks.pixel_mask(state.mask), state.magnitude), start=start)


class _Rows(NamedTuple):
    """What each working row carries about its image: its position in the caller's batch, the
    clean image, its random key and the loss's per-image inputs."""
    index: tf.Tensor  # [B] int32
    x: tf.Tensor
    keys: tf.Tensor
    labels: tf.Tensor
    soft_targets: tf.Tensor  # [B, K] ([B, 0] when unused)
    target_labels: tf.Tensor
    clean_logits: tf.Tensor


class _Work(NamedTuple):
    """The working batch: its rows, their attack state and their best inputs so far."""
    rows: _Rows
    state: _Iterate
    best: _Best


def _rows(x, keys, labels, soft_targets, target_labels, clean_logits):
    batch = tf.shape(x)[0]
    labels = tf.cast(labels, tf.int32)
    soft_targets = (tf.zeros([batch, 0]) if soft_targets is None
                    else tf.cast(soft_targets, tf.float32))
    target_labels = labels if target_labels is None else tf.cast(target_labels, tf.int32)
    return _Rows(tf.range(batch), x, keys, labels, soft_targets, target_labels, clean_logits)


def random_variant(seed=0, counter=0):
    """Training's 'rand' mode (SPEC §2.8): a scalar bool, True (projected) with probability 1/2.

    One draw per global batch (``counter`` = the training step), the same on every replica.
    """
    return keyed_random.scalar_uniform(seed, counter, keyed_random.STREAM_VARIANT) < 0.5


class _PixelMasks:
    """The mask over pixels: logits ``[B, H, W, 1]`` (SPEC §2)."""

    @staticmethod
    def logits_shape(x):
        return tf.concat([tf.shape(x)[1:3], [1]], 0)

    @staticmethod
    def topk(mask_logits, eps):
        return topk_mask(tf.sigmoid(mask_logits), eps)

    @staticmethod
    def raw_topk(mask_logits, eps):
        return topk_mask(mask_logits, eps)

    @staticmethod
    def perturb(x, magnitude, mask_logits, eps, projected, mask):
        return sparse_perturbation(x, magnitude, mask_logits, eps, projected, mask=mask)

    @staticmethod
    def pixel_mask(mask):
        return mask


class _GroupMasks(NamedTuple):
    """The mask over a structured threat's groups: logits ``[B, G]``."""
    threat: object

    def logits_shape(self, x):
        return tf.constant([self.threat.groups])

    def topk(self, mask_logits, eps):
        return group_topk(tf.sigmoid(mask_logits), eps)

    def raw_topk(self, mask_logits, eps):
        return group_topk(mask_logits, eps)

    def perturb(self, x, magnitude, mask_logits, eps, projected, mask):
        return structured_perturbation(x, magnitude, mask_logits, eps, projected, self.threat,
                                       mask=mask)

    def pixel_mask(self, mask):
        return self.threat.to_pixels(mask)


def _masks(threat):
    return _PixelMasks if threat is None or threat.is_pixels else _GroupMasks(threat)


def _random_start(x, keys, seed, counter, masks):
    """p ~ U(-1, 1) clipped into the box, m ~ N(0, 1) (SPEC §2.1)."""
    shape = tf.shape(x)
    magnitude = keyed_random.uniform(keys, shape[1:], seed, counter, keyed_random.STREAM_MAGNITUDE,
                                     minval=-1.0, maxval=1.0)
    magnitude = _clip_to_box(tf.reshape(magnitude, shape), x)
    logits_shape = masks.logits_shape(x)
    mask_logits = keyed_random.normal(keys, logits_shape, seed, counter,
                                      keyed_random.STREAM_MASK_LOGITS)
    return magnitude, tf.reshape(mask_logits, tf.concat([shape[:1], logits_shape], 0))


def _carried_start(x, magnitude, mask_logits, carried_mask, carried_magnitude):
    """The random start with the carried pixels' magnitudes, and their logits above all others."""
    carried = tf.cast(carried_mask, tf.bool)
    magnitude = tf.where(carried, _clip_to_box(tf.cast(carried_magnitude, tf.float32), x),
                         magnitude)
    top = tf.reduce_max(mask_logits, axis=[1, 2, 3], keepdims=True)
    return magnitude, tf.where(carried, top + CARRIED_LOGIT_MARGIN, mask_logits)


def _update(x, state, alpha, beta):
    """One sPGD step (SPEC §2.4) of (p, m) on the images that are still active."""
    magnitude, mask_logits, mask_grad = state.magnitude, state.mask_logits, state.mask_grad
    new_magnitude = _clip_to_box(magnitude + alpha * tf.sign(state.magnitude_grad), x)
    norm = tf.norm(tf.reshape(mask_grad, [tf.shape(mask_grad)[0], -1]), axis=-1)
    norm = expand_like(norm, mask_logits)
    positions = tf.cast(tf.reduce_prod(tf.shape(mask_logits)[1:]), tf.float32)
    mask_step = beta * tf.sqrt(positions) * mask_grad / tf.maximum(norm, MIN_MASK_GRAD_NORM)
    new_mask_logits = mask_logits + tf.where(norm >= MIN_MASK_GRAD_NORM, mask_step, 0.0)
    moving = tf.reshape(state.active, [-1, 1, 1, 1])
    return (tf.where(moving, new_magnitude, magnitude),
            tf.where(expand_like(state.active, mask_logits), new_mask_logits, mask_logits))


def _restart(state, restart, keys, eps, seed, counter, i, masks):
    """Fresh N(0, 1) mask logits for the ``restart`` images (SPEC §2.6), keyed by step ``i``, with
    their binary mask and raw top-k."""
    mask_logits = state.mask_logits
    fresh = keyed_random.normal(keys, tf.shape(mask_logits)[1:], seed,
                                common.step_counter(counter, i),
                                keyed_random.STREAM_RESTART)
    fresh = tf.reshape(fresh, tf.shape(mask_logits))
    chosen = expand_like(restart, mask_logits)
    return (tf.where(chosen, fresh, mask_logits),
            tf.where(chosen, masks.topk(fresh, eps), state.mask),
            tf.where(chosen, masks.raw_topk(fresh, eps), state.ranked))


def _clip_to_box(magnitude, x):
    return tf.clip_by_value(magnitude, tf.maximum(-1.0, -x), tf.minimum(1.0, 1.0 - x))


def _same_mask(mask, previous):
    same = tf.equal(mask, previous)
    return tf.reduce_all(tf.reshape(same, [tf.shape(same)[0], -1]), axis=1)


def _objective(loss):
    """The per-example loss the attack ascends, as a function of the attacked logits and the
    rows' per-image inputs."""
    if loss == "ce":
        return lambda logits, rows: per_example.cross_entropy(rows.labels, logits)
    if loss == "soft_ce":
        return lambda logits, rows: per_example.soft_cross_entropy(rows.soft_targets, logits)
    if loss == "kl":
        return lambda logits, rows: per_example.kl_divergence(rows.clean_logits, logits)
    return lambda logits, rows: -per_example.cross_entropy(rows.target_labels, logits)


def _success_test(loss):
    """(logits, rows) -> [B] bool: has the attack succeeded on this image."""
    truth = "target_labels" if loss == "targeted_ce" else "labels"
    compare = tf.equal if loss == "targeted_ce" else tf.not_equal
    return lambda logits, rows: compare(tf.argmax(logits, axis=-1, output_type=tf.int32),
                                        getattr(rows, truth))


def _result(best, images, x):
    adversarial = in_input_dtype(images, x, best.images)
    return SparsePGDResult(adversarial=tf.stop_gradient(adversarial),
                           is_adversarial=best.fooled, loss=tf.stop_gradient(best.loss),
                           logits=tf.stop_gradient(best.logits), passes=best.passes)


def _check_arguments(eps, iterations, loss, labels, soft_targets, target_labels):
    """The static budgets as ints, after the checks of the loss's inputs."""
    if iterations is None:
        raise ValueError("sparse_pgd needs iterations=")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}: choose one of {', '.join(LOSSES)}")
    if loss == "soft_ce" and soft_targets is None:
        raise ValueError('loss="soft_ce" needs soft_targets')
    if loss == "targeted_ce" and target_labels is None:
        raise ValueError('loss="targeted_ce" needs target_labels')
    if loss != "kl" and labels is None:
        raise ValueError(f"loss={loss!r} needs labels")
    return common.check_count("eps", eps), common.check_count("iterations", iterations)
