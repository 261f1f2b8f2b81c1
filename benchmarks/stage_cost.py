"""Figure (e) of ``benchmarks.attack_cost``: what an sAA stage costs against the images it still
attacks.

A model is trained normally (``TRAIN_EPOCHS`` epochs of cross-entropy on built-in shapes10 images,
``TRAIN_IMAGES_PER_BATCH`` times the batch size of them), so that most images fall in a stage's
first iterations and some resist. For each k of ``K_VALUES`` the three stages run one after another
on the correctly classified images of one held-out batch, as the cascade runs them (each on the
survivors of the ones before). Per stage:

    cost ratio = seconds / (active image-passes x seconds of one forward+backward per image)

with active image-passes the sum over the stage's iterations of the images still attacked
(sPGD: ``SparsePGDResult.passes``; Sparse-RS: its ``queries``, which are forward-only passes, so
its ratio sits near forward / (forward+backward) when the stage costs what its images need), and
the forward+backward per image measured on the full batch. Target: <= 1.3 at k = 3, 10 and 20.
Also the k = 10 / k = 3 stage-time ratio: far below 1 when broken images stop costing (at k = 10
more images fall early than at k = 3). Each stage is timed twice, compacted (broken images leave
the working batch, as evaluation runs) and not (they stay until the loop ends, as before
compaction): the second ratio is the cost of images already broken.

For the sPGD stages (compacted) the ratio is split into three factors whose product it is
(issue 27, part 4: where a stage's cost above its active images goes):

    ratio = small_batch x padding x attack_work
    small_batch = sum_t FB(n_t) / (active image-passes x FB(batch) / batch)
    padding     = sum_t FB(w_t) / sum_t FB(n_t)
    attack_work = seconds / sum_t FB(w_t)

n_t the images still attacked at pass t (from each image's ``passes``), w_t the rows of the
working batch at that pass (the compaction schedule of ``attacks/compaction.py`` replayed), FB(n)
one forward+backward of n images: timed at every working size w_t, so ``attack_work`` is exact,
and for n_t interpolated between the sizes timed (powers of two, the batch and the working sizes;
a CPU's cost is not linear in n between them, so the split between ``small_batch`` and
``padding`` is approximate). ``small_batch``: what a forward+backward of fewer images costs per
image above the full batch's (the model's, not the attack's); ``padding``: rows kept after their
image fell; ``attack_work``: everything the stage does beyond its working batch's
forward+backward passes (the top-k projection, updates, restarts, best-tracking, compaction's
gathers, the last scoring forward).
"""

import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from tf_fastls0.attacks import compaction, sparse_pgd, sparse_rs
from tf_fastls0.data.shapes import CLASS_NAMES, make_shapes
from tf_fastls0.models import build_model

K_VALUES = (3, 10, 20)
TRAIN_EPOCHS = 3
TRAIN_IMAGES_PER_BATCH = 40
TARGET = 1.3
PASSES_PER_CALL = 8
STAGES = ("spgd_unproj", "spgd_proj", "rs")


def stage_cost(model_name, width, image_size, batch, iterations, queries, repeats, seed=0):
    """The figure as a dict: per k and stage the seconds, active image-passes and cost ratio,
    the forward+backward seconds per image, and per stage the k = 10 / k = 3 time ratio."""
    net, images, labels = trained_shapes_model(model_name, width, image_size, batch, seed)
    model_fn = lambda x: net(x, training=False)  # noqa: E731
    correct = np.argmax(model_fn(images).numpy(), axis=-1) == labels
    timer = _forward_backward_timer(model_fn, images.shape[1:])
    pass_seconds = {}

    def measured(sizes):
        """``pass_seconds`` with every size of ``sizes`` timed."""
        for n in sorted(set(sizes) - set(pass_seconds)):
            pass_seconds[n] = timer(images[:n], labels[:n], repeats)
        return pass_seconds

    measured({*(2 ** i for i in range(batch.bit_length()) if 2 ** i < batch), batch})
    per_image = pass_seconds[batch] / batch
    stage_fns = {compact: _stage_functions(model_fn, images.shape[1:], iterations, queries,
                                           compact) for compact in (True, False)}
    by_k = {}
    for k in K_VALUES:
        by_k[str(k)] = _cascade(stage_fns, k, images[correct], labels[correct], repeats,
                                per_image, measured)
    figure = {"clean_correct": int(correct.sum()), "batch": batch,
              "forward_backward_seconds_per_image": per_image,
              "forward_backward_seconds": {str(n): t for n, t in pass_seconds.items()},
              "by_k": by_k, "target": TARGET}
    if "3" in by_k and "10" in by_k:
        for suffix in ("", "_uncompacted"):
            figure[f"k10_over_k3_seconds{suffix}"] = {
                stage: by_k["10"][stage][f"seconds{suffix}"] / by_k["3"][stage][f"seconds{suffix}"]
                for stage in STAGES if by_k["3"][stage][f"seconds{suffix}"] > 0}
    return figure


def trained_shapes_model(model_name, width, image_size, batch, seed):
    """A network trained ``TRAIN_EPOCHS`` epochs of cross-entropy on ``TRAIN_IMAGES_PER_BATCH *
    batch`` shapes10 images, and ``batch`` held-out images in [0, 1] with their labels."""
    keras.utils.set_random_seed(seed)
    train = make_shapes(TRAIN_IMAGES_PER_BATCH * batch, np.random.default_rng([seed, 0]),
                        size=image_size)
    test = make_shapes(batch, np.random.default_rng([seed, 1]), size=image_size)
    net = build_model(model_name, (image_size, image_size, 3), len(CLASS_NAMES), width=width)
    net.compile(keras.optimizers.Adam(1e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    net.fit(train.images.astype(np.float32) / 255.0, train.labels, batch_size=64,
            epochs=TRAIN_EPOCHS, verbose=0)
    return net, test.images.astype(np.float32) / 255.0, test.labels.astype(np.int32)


def _forward_backward_timer(model_fn, image_shape):
    """``(images, labels, repeats) ->`` median seconds of one forward+backward (gradient to the
    input), timed as ``PASSES_PER_CALL`` passes in one graph loop, as an attack's loop runs them
    (one call per pass would add a call's dispatch to every pass, a large share at a few
    images). One function with an open batch size serves every size."""

    @tf.function(input_signature=[tf.TensorSpec([None, *image_shape], tf.float32),
                                  tf.TensorSpec([None], tf.int32)])
    def passes(images, labels):
        def one_pass(i, carried):
            x = images + 0.0 * carried  # each pass depends on the last: none is hoisted or shared
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels, model_fn(x)))
            return i + 1, tf.reduce_sum(tape.gradient(loss, x))

        return tf.while_loop(lambda i, _: i < PASSES_PER_CALL, one_pass,
                             (tf.constant(0), tf.constant(0.0)))[1]

    def seconds(images, labels, repeats):
        images, labels = tf.constant(images), tf.constant(labels)
        passes(images, labels).numpy()
        return statistics.median(_seconds(lambda: passes(images, labels))
                                 for _ in range(repeats)) / PASSES_PER_CALL

    return seconds


def _stage_functions(model_fn, image_shape, iterations, queries, compact):
    """Stage name -> ``(images, labels, keys, eps) -> (fooled, active image-passes)``, each a
    tf.function with an open batch size (one trace per k)."""
    signature = [tf.TensorSpec([None, *image_shape], tf.float32),
                 tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int32)]

    def spgd(projected):
        def run(images, labels, keys, eps):
            result = sparse_pgd(model_fn, images, labels, eps=eps, iterations=iterations,
                                projected=projected, keys=keys, counter=1 + projected,
                                compact=compact)  # the evaluation's patience, sparse_pgd's default
            return result.is_adversarial, result.passes
        return run

    def rs(images, labels, keys, eps):
        result = sparse_rs(model_fn, images, labels, eps=eps, queries=queries, keys=keys,
                           counter=3, compact=compact)
        return result.is_adversarial, result.queries

    functions = {"spgd_unproj": spgd(False), "spgd_proj": spgd(True), "rs": rs}
    traced = {}

    def for_k(name, eps):
        if (name, eps) not in traced:
            traced[name, eps] = tf.function(
                lambda x, y, keys: functions[name](x, y, keys, eps), input_signature=signature)
        return traced[name, eps]

    return for_k


def _cascade(stage_fns, eps, images, labels, repeats, per_image, measured):
    """The stages in turn on the survivors; per stage its median seconds compacted and not (after
    one call that traces), its active image-passes, the two cost ratios and, for sPGD, the
    compacted ratio's three factors."""
    keys = np.arange(len(images), dtype=np.int32)
    alive = np.ones(len(images), bool)
    figures = {}
    for name in STAGES:
        arguments = (tf.constant(images[alive]), tf.constant(labels[alive]),
                     tf.constant(keys[alive]))
        if not alive.any():
            figures[name] = {"images": 0, "active_passes": 0, "seconds": 0.0, "ratio": None,
                             "seconds_uncompacted": 0.0, "ratio_uncompacted": None}
            continue
        figures[name] = {"images": int(alive.sum())}
        for compact, suffix in ((True, ""), (False, "_uncompacted")):
            stage = stage_fns[compact](name, eps)
            fooled, per_row = (t.numpy() for t in stage(*arguments))
            passes = int(per_row.sum())
            seconds = statistics.median(_seconds(lambda: stage(*arguments)[1])
                                        for _ in range(repeats))
            figures[name].update({"broken": int(fooled.sum()), "active_passes": passes,
                                  f"seconds{suffix}": seconds, f"ratio{suffix}":
                                  seconds / (passes * per_image) if passes else None})
            if compact and name != "rs" and passes:
                counts = active_counts(per_row)
                sizes = working_sizes(counts, len(per_row))
                figures[name]["factors"] = cost_factors(counts, sizes, seconds, per_image,
                                                        measured(sizes))
        alive[np.flatnonzero(alive)[fooled]] = False
    return figures


def active_counts(passes):
    """Images still attacked at each pass, from each image's ``passes`` (an image attacked with
    p passes was active at passes 0..p-1)."""
    passes = np.asarray(passes)
    return [int((passes > t).sum()) for t in range(int(passes.max(initial=0)))]


def working_sizes(counts, batch):
    """Rows of the working batch at each pass, the attack's own compaction rule replayed: the
    first pass runs the call's ``batch``; before each later pass the batch shrinks to
    ``compaction.bucket`` of the active rows when ``compaction.is_due``."""
    sizes, size = [], batch
    for t, count in enumerate(counts):
        if t > 0 and bool(compaction.is_due(tf.range(size) < count)):
            size = int(compaction.bucket(max(count, 1)))
        sizes.append(size)
    return sizes


def cost_factors(counts, sizes, seconds, per_image, pass_seconds):
    """``small_batch``, ``padding`` and ``attack_work`` (see the module docstring) of a stage
    whose passes had ``counts`` active images in working batches of ``sizes`` rows; their product
    is the compacted cost ratio."""
    timed = sorted(pass_seconds)
    fb = lambda n: float(np.interp(n, timed, [pass_seconds[m] for m in timed]))  # noqa: E731
    active_floor = sum(fb(n) for n in counts)
    working_floor = sum(fb(n) for n in sizes)
    return {"small_batch": active_floor / (sum(counts) * per_image),
            "padding": working_floor / active_floor,
            "attack_work": seconds / working_floor}


def _seconds(call):
    start = time.perf_counter()
    call().numpy()
    return time.perf_counter() - start


def print_figure(figure):
    print(f"(e) stage cost / (active image-passes x fwd+bwd per image), target <= "
          f"{figure['target']}; {figure['clean_correct']} of {figure['batch']} images correct")
    print("  compacted ratio [not compacted] (images attacked, seconds compacted)")
    for k, stages in figure["by_k"].items():
        cells = [f"{name} {s['ratio']:.2f} [{s['ratio_uncompacted']:.2f}] ({s['images']} img, "
                 f"{s['seconds']:.2f} s)" if s["ratio"] is not None else f"{name} -"
                 for name, s in stages.items()]
        print(f"  k = {k:>2}: " + ", ".join(cells))
    print("  compacted sPGD ratio = small batch x padding x attack's own work:")
    for k, stages in figure["by_k"].items():
        cells = [f"{name} {s['ratio']:.2f} = {f['small_batch']:.2f} x {f['padding']:.2f} x "
                 f"{f['attack_work']:.2f}" for name, s in stages.items()
                 if (f := s.get("factors"))]
        print(f"  k = {k:>2}: " + ", ".join(cells))
    compacted = figure.get("k10_over_k3_seconds", {})
    for name, ratio in compacted.items():
        print(f"  {name}: seconds at k = 10 / at k = 3 = {ratio:.2f} "
              f"[{figure['k10_over_k3_seconds_uncompacted'][name]:.2f}]")
