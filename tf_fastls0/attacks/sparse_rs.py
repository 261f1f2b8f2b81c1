"""Sparse-RS, the black-box l0 attack of Croce et al. (AAAI 2022), untargeted; SPEC §3.

Random search over sets of ``eps`` pixels using only the logits. Start: ``eps`` random positions set
to random corners of the colour cube ``{0, 1}^C``. Each query: restore ``n(it)`` of the perturbed
positions to their clean values and perturb as many random unperturbed positions with fresh corner
colours; keep the candidate if it raises the cross-entropy of the true class or fools the image.
As in the reference code (github.com/fra31/sparse-rs), when a query changes a single pixel
(``n(it) = 1``) its new colour differs from the pixel's clean one (uniform over the other corners).
``n(it) = max(floor(p(it) * eps), 1)`` with ``p(it) = p_init / d``, ``d`` = 1, 2, 4, 5, 6, 8,
10, 12, 15, 20 on the iteration intervals {0}, (0, 50], (50, 200], (200, 500], (500, 1000],
(1000, 2000], (2000, 4000], (4000, 6000], (6000, 8000], (8000, ...) of a 10,000-query budget; for
another budget the iteration is rescaled to 10,000. An image counts as fooled, and stops, once its
margin (true logit minus the largest other logit) is <= 0, as in the reference code (a tie
counts); images misclassified clean (margin < 0) are returned unchanged. ``is_adversarial`` is
that in-search verdict: a caller that needs the model's argmax on the returned image (the cascade
does) runs one fresh forward pass.

Structured threats (``threat``, see ``threats``): the search runs over the threat's groups
instead of pixels: ``eps`` groups are perturbed, each query restores ``n(it)`` of them and
perturbs as many unperturbed ones, and every pixel of a newly perturbed group takes a fresh
random corner colour (no "differs from clean" redraw, which is a single-pixel rule). This is the
l0 search of SPEC §3 over a group map, not the Sparse-RS paper's patch attack (which moves one
image-specific patch and updates its content); ``threat=None`` or ``pixels`` runs the pixel code.

The batch moves in lock-step (one forward per query for all still-running images); each query
costs one forward pass, including the first (the random start). Fooled images leave the working
batch as they fall (``compaction``), so the cost follows the images still searched. The
interface (model, arrays, keyword names) is every attack's (``common``).
"""

from typing import NamedTuple

import tensorflow as tf

from tf_fastls0.attacks import common, compaction, paper_budget
from tf_fastls0.attacks.outputs import expand_like, in_input_dtype
from tf_fastls0.losses import per_example
from tf_fastls0.utils import keyed_random

SCHEDULE_BUDGET = 10_000
SCHEDULE_BOUNDARIES = (0, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
SCHEDULE_DIVISORS = (1, 2, 4, 5, 6, 8, 10, 12, 15, 20)


class SparseRSResult(NamedTuple):
    adversarial: tf.Tensor  # [B, H, W, C], the images' dtype
    is_adversarial: tf.Tensor  # [B] bool: the returned image is misclassified
    loss: tf.Tensor  # [B] float32: cross-entropy of the returned image
    queries: tf.Tensor  # [B] int32: forward passes spent on each image


class _Search(NamedTuple):
    perturbed: tf.Tensor  # [B, S] bool: the perturbed pixels (S = H*W) or groups (S = G)
    colours: tf.Tensor  # [B, H*W, C] float in {0, 1}, meaningful where perturbed
    loss: tf.Tensor  # [B]
    fooled: tf.Tensor  # [B] bool
    queries: tf.Tensor  # [B] int32


def sparse_rs(model, images, labels, *, eps, queries=paper_budget.QUERIES, p_init=0.8, keys=None,
              seed=0, counter=0, clean_logits=None, compact=True, threat=None):
    """Runs Sparse-RS on a batch.

    Args:
      model, images, labels: as every attack takes them (``common``); only the model's outputs
        are used.
      eps: l0 budget in pixels or ``threat``'s structures (static int >= 0); queries: forward
        passes per image (static int >= 0; default: the paper's, ``paper_budget.QUERIES``).
      p_init: initial fraction of the ``eps`` pixels resampled per query.
      keys, seed, counter, clean_logits, compact: the shared settings (``common``).
      threat: a ``threats.Threat`` for a structured threat; None (pixels) by default.

    Returns a ``SparseRSResult``.
    """
    eps, queries = common.check_count("eps", eps), common.check_count("queries", queries)
    clean = common.prepare(model, images, labels, attack="sparse_rs", keys=keys,
                           clean_logits=clean_logits)
    model_fn, images, x, labels, keys, clean_logits = (clean.model_fn, clean.images, clean.x,
                                                       clean.labels, clean.keys, clean.logits)
    shape = tf.shape(x)
    # Static where known: a traced count of 1 leaves the colours' channels unknown ([.., None]
    # broadcast with 1), which the compiled search loop refuses.
    batch, channels = shape[0], x.shape[3] or shape[3]
    image_shape = shape[1:]
    clean_fooled = common.margin(clean_logits, labels) < 0
    clean_loss = per_example.cross_entropy(labels, clean_logits)
    grouped = threat is not None and not threat.is_pixels
    eps = min(eps, threat.groups) if grouped else _clamp_to_positions(eps, x)
    if eps == 0 or queries == 0:
        return SparseRSResult(images, clean_fooled, clean_loss, tf.zeros([batch], tf.int32))
    rows = _Rows(tf.range(batch), tf.reshape(x, [batch, shape[1] * shape[2], channels]), labels,
                 keys)

    def draws(it, rows):
        """(scores [B, S, 2] to restore and add, colour uniforms [B, H*W, C])."""
        u = keyed_random.uniform(rows.keys, tf.stack([tf.shape(rows.pixels)[1], 2 + channels]),
                                 seed, common.step_counter(counter, it), keyed_random.STREAM_RS)
        if not grouped:
            return u[..., :2], u[..., 2:]
        scores = keyed_random.uniform(rows.keys, [threat.groups, 2], seed,
                                      common.step_counter(counter, it),
                                      keyed_random.STREAM_RS_GROUPS)
        return scores, u[..., 2:]

    def pixels_of(perturbed):
        if not grouped:
            return perturbed
        chosen = threat.to_pixels(tf.cast(perturbed, tf.float32))
        return tf.reshape(chosen, [tf.shape(perturbed)[0], -1]) > 0

    def score(rows, perturbed, colours):
        candidate = _compose(rows.pixels, pixels_of(perturbed), colours, image_shape)
        logits = model_fn(candidate)
        return (per_example.cross_entropy(rows.labels, logits),
                common.margin(logits, rows.labels) <= 0)

    scores, colour_draws = draws(0, rows)
    perturbed = _top(scores[..., 1], eps, tf.constant(eps))
    colours = _corners(colour_draws)
    loss, fooled = score(rows, perturbed, colours)
    running = tf.logical_not(clean_fooled)
    search = _Search(perturbed, colours, loss, fooled, tf.cast(running, tf.int32))
    running = tf.logical_and(running, tf.logical_not(fooled))
    resampled = _schedule(eps, queries, p_init)

    def body(it, work, finished):
        work, finished = common.maybe_compact(compact, work, finished, work.running,
                                              lambda work: work.search)
        rows, search, running = work
        scores, colour_draws = draws(it, rows)
        n = resampled(it)
        restore = _top(tf.where(search.perturbed, scores[..., 0], -1.0), eps, n)
        add = _top(tf.where(search.perturbed, -1.0, scores[..., 1]), eps, n)
        perturbed = tf.logical_or(tf.logical_and(search.perturbed, tf.logical_not(restore)), add)
        if grouped:
            fresh = _corners(colour_draws)
        else:
            fresh = tf.cond(tf.equal(n, 1),
                            lambda: _new_colours(colour_draws, rows, seed,
                                                 common.step_counter(counter, it)),
                            lambda: _corners(colour_draws))
        colours = tf.where(pixels_of(add)[..., tf.newaxis], fresh, search.colours)
        loss, fooled = score(rows, perturbed, colours)
        accept = tf.logical_and(running, tf.logical_or(loss > search.loss, fooled))
        kept = (tf.where(expand_like(accept, old), new, old)
                for old, new in zip(search[:4], (perturbed, colours, loss, fooled)))
        search = _Search(*kept, queries=search.queries + tf.cast(running, tf.int32))
        running = tf.logical_and(running, tf.logical_not(search.fooled))
        return it + 1, _Work(rows, search, running), finished

    def keep_going(it, work, finished):
        return tf.logical_and(it < queries, tf.reduce_any(work.running))

    work, finished = _Work(rows, search, running), search
    _, work, finished = common.loop(keep_going, body, 1, work, finished, compact)
    search = compaction.scatter_rows(finished, work.rows.index, work.search)
    adversarial = tf.where(tf.reshape(clean_fooled, [-1, 1, 1, 1]), x,
                           _compose(rows.pixels, pixels_of(search.perturbed), search.colours,
                                    image_shape))
    return SparseRSResult(
        adversarial=in_input_dtype(images, x, adversarial),
        is_adversarial=tf.logical_or(clean_fooled, search.fooled),
        loss=tf.where(clean_fooled, clean_loss, search.loss),
        queries=search.queries)


class _Rows(NamedTuple):
    """Per working row: its position in the caller's batch, its clean pixels, label and key."""
    index: tf.Tensor  # [B] int32
    pixels: tf.Tensor  # [B, H*W, C]
    labels: tf.Tensor
    keys: tf.Tensor


class _Work(NamedTuple):
    rows: _Rows
    search: _Search
    running: tf.Tensor  # [B] bool


def _schedule(eps, queries, p_init):
    """it (scalar int tensor) -> n(it), via a table of the ten possible counts."""
    counts = tf.constant([min(max(int(p_init / d * eps), 1), eps) for d in SCHEDULE_DIVISORS])
    boundaries = tf.constant(SCHEDULE_BOUNDARIES, tf.int64)

    def resampled(it):
        scaled = tf.cast(it, tf.int64) * SCHEDULE_BUDGET // queries
        return counts[tf.reduce_sum(tf.cast(scaled > boundaries, tf.int32))]

    return resampled


def _top(scores, eps, n):
    """[B, P] bool: the ``n`` highest non-negative ``scores`` per row (``n <= eps``, static eps)."""
    values, chosen = tf.math.top_k(scores, k=eps)
    keep = tf.logical_and(tf.range(eps) < n, values >= 0.0)
    rows = tf.broadcast_to(tf.range(tf.shape(scores)[0])[:, tf.newaxis], tf.shape(chosen))
    indices = tf.stack([rows, chosen], axis=-1)
    return tf.scatter_nd(indices, tf.cast(keep, tf.int32), tf.shape(scores)) > 0


def _corners(uniforms):
    return tf.cast(uniforms < 0.5, tf.float32)


def _new_colours(colour_draws, rows, seed, step_counter):
    """Corner colours ``[B, H*W, C]`` that differ from the clean pixels: the drawn corner where it
    differs, else the clean corner with a uniformly drawn non-empty set of channels flipped (the
    reference's redraw-until-different, uniform over the other corners)."""
    drawn = _corners(colour_draws)
    channels = tf.shape(rows.pixels)[2]
    flips = keyed_random.integers(rows.keys, tf.shape(rows.pixels)[1:2],
                                  2 ** channels - 1, seed, step_counter,
                                  keyed_random.STREAM_RS_RECOLOUR) + 1
    flipped = tf.bitwise.bitwise_and(
        tf.bitwise.right_shift(flips[..., tf.newaxis], tf.range(channels)), 1) > 0
    other = tf.where(flipped, 1.0 - rows.pixels, rows.pixels)
    same = tf.reduce_all(tf.equal(drawn, rows.pixels), axis=-1, keepdims=True)
    return tf.where(same, other, drawn)


def _compose(pixels, perturbed, colours, image_shape):
    """Images ``[B, *image_shape]`` from flat pixels with the ``perturbed`` ones recoloured."""
    composed = tf.where(perturbed[..., tf.newaxis], colours, pixels)
    return tf.reshape(composed, tf.concat([[-1], image_shape], 0))


def _clamp_to_positions(eps, x):
    height, width = x.shape[1], x.shape[2]
    if height is None or width is None:
        raise ValueError("sparse_rs needs images with a static height and width")
    return min(eps, height * width)
