"""Sparse-AutoAttack (sAA), the l0 evaluation cascade of Zhong et al., ICML 2024; SPEC §4.

Stages, each run only on the images that every stage before it failed to break (the survivors are
gathered into a smaller batch, so a broken image is never attacked again):

1. ``"spgd_unproj"``: sPGD, unprojected gradient, ``iterations`` steps, CE loss, patience 3;
2. ``"spgd_proj"``: sPGD, projected gradient, same budget;
3. ``"rs"``: Sparse-RS, ``queries`` queries.

Default budget: the paper's (``paper_budget``: 10,000 iterations and 10,000 queries, patience
3). ``attacks`` picks a cascade of the registry (``registry.ATTACKS``: ``"saa"`` = all three) or
any of its single attacks (also CornerSearch, SAIF, sigma-zero), which gives each attack alone for
the paper's per-attack columns.

Inside a stage, sPGD and Sparse-RS drop broken images from their working batch as they fall
(``compaction``), so a stage's cost follows the images still attacked. Every image's verdict is
one fresh forward pass on the image a stage returns.

``broken_by`` records per image which stage broke it: ``CLEAN_MISTAKE`` (0) = misclassified before
any attack, ``STAGE_CODES[name]`` (1, 2, 3 as above, whatever subset runs) = broken by that stage,
``SURVIVED`` (-1) = correct after every stage run. Robust accuracy = mean(broken_by == SURVIVED).
With a structured ``threat`` (``threats``), ``eps`` counts its structures and only the
structured stages run (the three of sAA); the report's settings name the threat and its unit.
A minimum-norm stage (sigma-zero) also gives ``min_pixels``: per image the fewest changed pixels
of a fooling image it found (0 for clean mistakes, ``NOT_FOUND`` (-1) if none), at any budget.

The interface is every attack's (``common``): ``sparse_autoattack(model, images, labels, eps=...)``
with a ``keras.Model`` or a callable and numpy arrays or tensors, cut into ``batch_size`` batches;
or ``batches=``, a stream of batches (an evaluation that does not hold every image at once; the
old positional stream still works, with a ``DeprecationWarning``).
"""

import time
import warnings
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tf_fastls0.attacks import common, paper_budget
from tf_fastls0.attacks.sigma_zero import NOT_FOUND
from tf_fastls0.attacks.registry import ATTACKS, STAGE_CODES, Budget, resolve_stages
from tf_fastls0.utils import inputs

CLEAN_MISTAKE = 0
SURVIVED = -1
ATTACK = "sparse_autoattack"  # names this function in a refusal of its inputs


class SparseAutoAttackResult(NamedTuple):
    adversarial: np.ndarray  # [N, H, W, C] (None if keep_adversarial=False); clean where unbroken
    broken_by: np.ndarray  # [N] int32, see the module docstring
    report: dict  # accuracies, survivors per stage, seconds per stage, settings
    min_pixels: np.ndarray = None  # [N] int32 when a minimum-norm stage ran, see the docstring

    @property
    def is_adversarial(self):
        """[N] bool: misclassified clean or broken by a stage (every attack's result has it)."""
        return self.broken_by != SURVIVED


def sparse_autoattack(model, images=None, labels=None, *, eps, iterations=paper_budget.ITERATIONS,
                      queries=paper_budget.QUERIES, attacks="saa", seed=0,
                      patience=paper_budget.PATIENCE, keys=None, batch_size=500, batches=None,
                      keep_adversarial=True, progress=None, compiled=True, compact=True,
                      threat=None):
    """Runs the sAA cascade on ``images`` and ``labels``, or over a stream of ``batches``.

    Args:
      model: a ``keras.Model`` (run in inference mode) or a callable images ``[B, H, W, C]`` in
        [0, 1] -> logits, in inference mode.
      images, labels: ``[N, H, W, C]`` float in [0, 1] and int ``[N]`` (numpy or tensors),
        attacked in batches of ``batch_size``; keys: their random keys (default ``range(N)``).
      batches: instead of ``images`` and ``labels``, an iterable of ``(images, labels)``,
        ``(images, labels, keys)`` or dicts with ``images``, ``labels`` and optionally ``indices``;
        keys (an image's index in the data set, for keyed randomness) default to the running image
        count.
      eps: l0 budget in pixels; iterations: sPGD steps per stage; queries: Sparse-RS queries.
      attacks: ``"saa"``, one single attack's name in ``registry.ATTACKS`` or a sequence of them
        (run in the given order).
      seed: seed of every random draw; patience: sPGD restart patience.
      keep_adversarial: also return the adversarial images (host memory ``N*H*W*C`` floats).
      progress: optional callable receiving a dict after each stage of each batch (keys: batch,
        stage, attacked, broken, seconds, images_done).
      compiled: run the model and the stages as tf.functions (one trace each); False runs them
        eagerly (tiny tests, debugging).
      compact: drop broken images from a stage's working batch while it runs (the same images
        broken; logits may differ in the last bit, see ``compaction``; False only to check that).
      threat: a ``threats.Threat`` (``eps`` then counts its structures); None: pixels.

    Returns a ``SparseAutoAttackResult``. To attack one model in many calls (an evaluation that
    saves its state between batches), keep a ``SparseAutoAttack`` instead: it traces once.
    """
    if labels is None and batches is None and not hasattr(images, "shape"):
        warnings.warn("sparse_autoattack(model, batches) is deprecated: pass batches=",
                      DeprecationWarning, stacklevel=2)
        images, batches = None, images
    if (batches is None) == (images is None) or (images is None) != (labels is None):
        raise ValueError("sparse_autoattack takes images and labels, or batches=")
    if batches is None:
        batches = _batches_of(images, labels, keys, common.check_count("batch_size", batch_size))
    cascade = SparseAutoAttack(model, eps=eps, iterations=iterations, queries=queries,
                               seed=seed, patience=patience, compiled=compiled,
                               compact=compact, threat=threat)
    return cascade(batches, attacks=attacks, keep_adversarial=keep_adversarial, progress=progress)


class SparseAutoAttack:
    """The sAA cascade on one model at one budget, keeping its traced functions across calls.

    ``SparseAutoAttack(model_fn, eps=..., iterations=..., queries=...)(batches, attacks=...)``
    takes the arguments of ``sparse_autoattack`` split the same way; every call with any stages of
    the stage table and any batch size reuses the stage functions already traced.
    """

    def __init__(self, model, *, eps, iterations=paper_budget.ITERATIONS,
                 queries=paper_budget.QUERIES, seed=0, patience=paper_budget.PATIENCE,
                 compiled=True, compact=True, threat=None):
        self._model_fn = common.as_model_fn(model)
        self._threat = threat
        self._compiled = compiled
        self._settings = {"eps": common.check_count("eps", eps),
                          "iterations": common.check_count("iterations", iterations),
                          "queries": common.check_count("queries", queries), "seed": int(seed),
                          "patience": patience}
        self._budget = Budget(compact=compact, threat=threat, **self._settings)
        self._clean_fn = self._classes = None
        self._stage_fns = {}

    def __call__(self, batches, *, attacks="saa", keep_adversarial=True, progress=None):
        stages = resolve_stages(attacks, self._threat)
        seconds = dict.fromkeys(stages, 0.0)
        survivors = dict.fromkeys(("clean",) + stages, 0)
        records, adversarial, pixel_counts = [], [], []
        minimum_norm = any(ATTACKS[name].minimum_norm for name in stages)
        for batch_index, batch in enumerate(batches):
            seen = sum(map(len, records))
            images, labels, keys = _unpack(batch, seen)
            clean_fn, stage_fns = self._functions(images, stages)
            clean_logits = tf.cast(clean_fn(images), tf.float32)
            inputs.check_label_range(labels, self._classes, ATTACK, first_row=seen)
            correct = np.argmax(clean_logits.numpy(), axis=-1) == labels.numpy()
            record = np.where(correct, SURVIVED, CLEAN_MISTAKE).astype(np.int32)
            batch_adversarial = images.numpy() if keep_adversarial else None
            min_pixels = np.where(correct, NOT_FOUND, 0).astype(np.int32)
            alive = np.flatnonzero(correct)
            survivors["clean"] += alive.size
            for name in stages:
                start = time.perf_counter()
                broken = _run_stage(stage_fns[name], clean_fn, alive,
                                    (images, labels, keys, clean_logits), batch_adversarial,
                                    min_pixels if ATTACKS[name].minimum_norm else None,
                                    self._settings["eps"])
                elapsed = time.perf_counter() - start
                record[broken] = STAGE_CODES[name]
                attacked, alive = alive.size, np.setdiff1d(alive, broken)
                seconds[name] += elapsed
                survivors[name] += alive.size
                if progress is not None:
                    progress({"batch": batch_index, "stage": name, "attacked": attacked,
                              "broken": broken.size, "seconds": elapsed,
                              "images_done": sum(map(len, records)) + len(record)})
            records.append(record)
            pixel_counts.append(min_pixels)
            if keep_adversarial:
                adversarial.append(batch_adversarial)

        broken_by = np.concatenate(records) if records else np.zeros([0], np.int32)
        settings = {**self._settings, "n_images": len(broken_by), "attacks": list(stages),
                    **_threat_settings(self._threat)}
        adversarial = np.concatenate(adversarial) if keep_adversarial and adversarial else None
        min_pixels = (np.concatenate(pixel_counts) if pixel_counts else np.zeros([0], np.int32)
                      ) if minimum_norm else None
        return SparseAutoAttackResult(adversarial, broken_by,
                                      _report(broken_by, survivors, seconds, settings),
                                      min_pixels)

    def _functions(self, images, stages):
        """The clean forward and the functions of ``stages``, each traced once for any batch
        size (the first batch fixes the image shape)."""
        image_spec = tf.TensorSpec([None, *images.shape[1:]], images.dtype)
        if self._clean_fn is None:
            self._classes = self._model_fn(images[:1]).shape[-1]
            self._clean_fn = (tf.function(self._model_fn, input_signature=[image_spec])
                              if self._compiled else self._model_fn)
        for name in stages:
            if name not in self._stage_fns:
                self._stage_fns[name] = _stage(ATTACKS[name].build(self._model_fn, self._budget),
                                               image_spec, self._classes, self._compiled)
        return self._clean_fn, self._stage_fns


def _threat_settings(threat):
    """The report's words for the threat: its name, the unit ``eps`` counts, and (structured
    threats) what a structure is."""
    if threat is None or threat.is_pixels:
        return {"threat": "pixels", "eps_unit": "pixels"}
    return {"threat": threat.name, "eps_unit": threat.unit, "structure": threat.description}


def _report(broken_by, survivors, seconds, settings):
    count = len(broken_by)
    return {
        "clean_accuracy": survivors["clean"] / count if count else 0.0,
        "robust_accuracy": float(np.mean(broken_by == SURVIVED)) if count else 0.0,
        "survivors": survivors,  # images still correct after the clean pass and each stage
        "seconds": seconds,  # per stage, over all batches (the first batch includes tracing)
        "settings": settings,
    }


def _run_stage(stage_fn, model_fn, alive, batch, batch_adversarial, min_pixels, eps):
    """Attacks the ``alive`` rows of ``batch`` only; returns the row indices it broke and writes
    their adversarial images into ``batch_adversarial`` (if kept).

    An image is broken when one fresh forward pass on the image the stage returns misclassifies
    it (the stage's own verdict may differ: Sparse-RS stops at a tie, as its reference does). For
    a minimum-norm stage (``min_pixels`` given) it must also change at most ``eps`` pixels, and
    ``min_pixels`` gets the pixel count of every fooling image found."""
    if not alive.size:
        return alive
    attacked = [tf.gather(t, alive) for t in batch]
    adversarial = stage_fn(*attacked)
    predictions = np.argmax(tf.cast(model_fn(adversarial), tf.float32).numpy(), axis=-1)
    fooled = predictions != attacked[1].numpy()
    adversarial = adversarial.numpy()
    if min_pixels is not None:
        changed = np.any(adversarial != attacked[0].numpy(), axis=-1)
        pixels = changed.reshape(len(alive), -1).sum(axis=1)
        min_pixels[alive[fooled]] = pixels[fooled]
        fooled &= pixels <= eps
    if batch_adversarial is not None:
        batch_adversarial[alive[fooled]] = adversarial[fooled]
    return alive[fooled]


def _stage(stage, image_spec, classes, compiled):
    """``stage`` as a tf.function whose signature leaves the batch size open, so the shrinking
    survivor batches share one trace."""
    if not compiled:
        return stage
    return tf.function(stage, input_signature=[
        image_spec, tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int64),
        tf.TensorSpec([None, classes], tf.float32)])


def _batches_of(images, labels, keys, batch_size):
    """``(images, labels, keys)`` in slices of ``batch_size``; keys default to ``range(N)``."""
    images = tf.convert_to_tensor(inputs.check_images(images, ATTACK))
    count = int(images.shape[0])
    labels = tf.convert_to_tensor(inputs.check_labels(labels, count, ATTACK))
    keys = tf.range(count, dtype=tf.int64) if keys is None else tf.convert_to_tensor(keys)
    return [(images[start:start + batch_size], labels[start:start + batch_size],
             keys[start:start + batch_size]) for start in range(0, count, batch_size)]


def _unpack(batch, seen):
    if isinstance(batch, dict):
        images, labels, keys = batch["images"], batch["labels"], batch.get("indices")
    else:
        images, labels, keys = (tuple(batch) + (None,))[:3]
    images = tf.convert_to_tensor(inputs.check_images(images, ATTACK))
    labels = tf.cast(tf.convert_to_tensor(inputs.check_labels(labels, images.shape[0], ATTACK)),
                     tf.int32)
    if keys is None:
        keys = tf.range(seen, seen + tf.shape(images)[0])
    return images, labels, tf.cast(tf.convert_to_tensor(keys), tf.int64)
