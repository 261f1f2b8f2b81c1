"""What every attack shares: its interface, argument checks, the clean pass and its bookkeeping.

Every attack is a function ``attack(model, images, labels, *, eps, ...)``:

- ``model``: a ``keras.Model`` (called in inference mode) or any callable images -> logits;
- ``images`` ``[B, H, W, C]`` float in [0, 1] and ``labels`` int ``[B]`` (or ``[B, 1]``), numpy
  or tensors, checked by ``utils.inputs`` (uint8 images are refused: scale them by 1/255; the
  result comes back in the images' dtype, which must hold values in [0, 1]);
- ``eps``: the l0 budget (pixels, or the structures of ``threat``);
- keyword settings, one name per meaning across attacks: ``iterations`` (gradient steps: sPGD,
  SAIF, sigma-zero, the sAA cascade), ``queries`` (forward passes of a black-box search: Sparse-RS,
  the cascade), ``keys`` / ``seed`` / ``counter`` (keyed randomness, see keyed_random),
  ``clean_logits`` (saves the clean forward), ``compact`` (drop finished images from the working
  batch, see ``compaction``), ``threat`` (a structured ``threats.Threat``; attacks that cannot
  attack structures refuse one with a ``ValueError``).

The result is a NamedTuple with at least ``adversarial`` (the images' shape and dtype) and
``is_adversarial`` ``[B]``. The same inputs give the same result whether the model is a
``keras.Model`` or a plain function and whether the arrays are numpy or tensors.
"""

import numbers
import warnings
from typing import NamedTuple

import keras
import tensorflow as tf

from tf_fastls0.attacks import compaction
from tf_fastls0.utils import inputs


class AttackResult(NamedTuple):
    """What every attack returns at least (an attack may return more fields)."""
    adversarial: tf.Tensor  # [B, H, W, C], the images' dtype
    is_adversarial: tf.Tensor  # [B] bool: the returned image is misclassified


class Clean(NamedTuple):
    """An attack's inputs after the shared checks and the clean pass."""
    model_fn: object  # images -> float32 logits
    images: tf.Tensor  # as given, as a tensor (its dtype is the result's)
    x: tf.Tensor  # float32 images
    labels: tf.Tensor  # int32 [B] (None where an attack may go without)
    keys: tf.Tensor  # [B] per-example random keys
    logits: tf.Tensor  # float32 [B, K] clean logits (no gradient)
    batch: tf.Tensor  # scalar int32


def as_model_fn(model):
    """A callable images -> float32 logits: a ``keras.Model`` is called in inference mode."""
    if isinstance(model, keras.Model):
        return lambda images: tf.cast(model(images, training=False), tf.float32)
    if not callable(model):
        raise TypeError(f"model must be a keras.Model or a callable, got {type(model).__name__}")
    return lambda images: tf.cast(model(images), tf.float32)


def prepare(model, images, labels, *, attack, keys=None, clean_logits=None):
    """The shared start of every attack: the inputs checked (``utils.inputs``, ``attack`` names
    the function in a refusal), tensors, float32 images, int32 labels, default keys ``range(B)``
    and the clean logits (one forward unless ``clean_logits`` is given)."""
    model_fn = as_model_fn(model)
    images = tf.convert_to_tensor(inputs.check_images(images, attack))
    if labels is not None:
        labels = inputs.check_labels(labels, images.shape[0], attack)
    x = tf.cast(images, tf.float32)
    batch = tf.shape(x)[0]
    keys = tf.range(batch) if keys is None else keys
    logits = model_fn(x) if clean_logits is None else clean_logits
    logits = tf.stop_gradient(tf.cast(logits, tf.float32))
    if labels is not None:
        inputs.check_label_range(labels, logits.shape[-1], attack)
        labels = tf.cast(labels, tf.int32)
    return Clean(model_fn, images, x, labels, keys, logits, batch)


def check_count(name, value):
    """``value`` must be a Python int >= 0 (a static budget); returns it as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a Python int >= 0, got {value!r}")
    return int(value)


def iterations_from(iterations, steps, attack, default=None):
    """``iterations``, or the old keyword ``steps`` (with a ``DeprecationWarning``), or
    ``default`` when neither is given."""
    return renamed(iterations, steps, attack, "iterations", "steps", default, stacklevel=4)


def renamed(value, old_value, attack, name, old_name, default=None, stacklevel=3):
    """A keyword ``name`` whose old spelling ``old_name`` still works, with a
    ``DeprecationWarning``; ``default`` when neither is given."""
    if old_value is None:
        return default if value is None else value
    warnings.warn(f"{attack}({old_name}=...) is deprecated: use {name}=", DeprecationWarning,
                  stacklevel=stacklevel)
    if value is not None and value != default:
        raise ValueError(f"{attack}: give {name}= only ({old_name}= is its old name)")
    return old_value


def refuse_structured(threat, attack):
    """A clear refusal for an attack of pixels only given a structured threat."""
    if threat is not None and not threat.is_pixels:
        raise ValueError(f"{attack} attacks pixels only, not the {threat.name} threat")


def fooled(logits, labels):
    """[B] bool: the argmax of ``logits`` is not the label."""
    return tf.not_equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels)


def margin(logits, labels):
    """True-class logit minus the largest other logit, ``[B]``."""
    true = tf.gather(logits, labels, axis=1, batch_dims=1)
    others = tf.where(tf.one_hot(labels, tf.shape(logits)[1]) > 0, -float("inf"), logits)
    return true - tf.reduce_max(others, axis=1)


def step_counter(counter, step):
    """The keyed-random counter of a draw at ``step`` of an attack called with ``counter``."""
    return tf.cast(counter, tf.int64) * (2 ** 32) + tf.cast(step, tf.int64)


def compacted(work, finished, active, results):
    """``work`` (a structure whose ``rows.index`` is each row's place in the caller's batch) cut
    to its ``active`` rows (padded to a bucket); ``results(work)`` of every row goes into
    ``finished`` (the full batch's) first, so the rows it drops keep their final results."""
    finished = compaction.scatter_rows(finished, work.rows.index, results(work))
    return compaction.gather_rows(work, compaction.survivors_first(active)), finished


def maybe_compact(compact, work, finished, active, results):
    """``compacted`` when ``compact`` and the working batch is due to shrink (inside the loop)."""
    if not compact:
        return work, finished
    return tf.cond(compaction.is_due(active),
                   lambda: compacted(work, finished, active, results),
                   lambda: (work, finished))


def loop(keep_going, body, start, work, finished, compact):
    """``tf.while_loop`` over ``(step, work, finished)`` from step ``start``; with ``compact``
    the working batch's shapes are left open so ``maybe_compact`` may shrink it."""
    step = tf.convert_to_tensor(start)
    invariants = (step.shape, compaction.open_batch_shapes(work),
                  tf.nest.map_structure(lambda t: t.shape, finished))
    return tf.while_loop(keep_going, body, (step, work, finished),
                         shape_invariants=invariants if compact else None)
