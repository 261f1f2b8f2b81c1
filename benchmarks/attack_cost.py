"""What the sparse attacks cost next to the model's own passes, on one model and one batch.

    python -m benchmarks.attack_cost --width=0.25 --batch=128 --output=/tmp/attack_cost.json
    python -m benchmarks.attack_cost --figures=e --model=preact_resnet18   # stage cost only

Figures (medians over repeats; the timed calls of (a) and (b) are interleaved within each repeat):
(a) one sPGD iteration / one forward+backward (gradient to the input, as an attack step needs)
    target <= 1.15; the iteration's time is (T(steps) - T(1)) / (steps - 1), KL loss so that no
    image stops early;
(b) 1-step sPGD with the clean logits given / (one forward+backward + one forward), target <= 1.15;
    also without the clean logits, against forward+backward + two forwards;
(c) Sparse-AutoAttack images per second at a quick budget, labels set to the model's predictions so
    every image goes through the stages (an untrained model breaks fast: a lower bound on cost);
(d) sAA one batch per call, as ``python -m tf_fastls0.evaluate`` calls it (it saves its state
    between batches): seconds per call with a new cascade each call (traced afresh) over seconds
    per call with one kept ``SparseAutoAttack`` (traced once);
(e) per sAA stage on a normally trained model at k = 3, 10, 20: seconds / (active image-passes x
    one forward+backward per image), target <= 1.3, and the k = 10 / k = 3 stage-time ratio
    (``benchmarks/stage_cost.py``; ``--saa_iterations``/``--saa_queries`` set the stages' budget).
Also printed: forward+backward to the input next to forward+backward to the weights.
"""

import json
import os
import statistics
import time

from absl import flags
import numpy as np
import tensorflow as tf

from benchmarks.stage_cost import print_figure as print_stage_cost
from benchmarks.stage_cost import stage_cost
from tf_fastls0.attacks import SparseAutoAttack, sparse_autoattack, sparse_pgd
from tf_fastls0.models import build_model
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.utils import settings
from tf_fastls0.utils.cli import run_main

FLAGS = flags.FLAGS
settings.define_flags(TrainConfig, only=("model", "width"))
flags.DEFINE_integer("batch", 128, "Batch size.")
flags.DEFINE_integer("image_size", 32, "Height and width of the (random) images.")
flags.DEFINE_integer("num_classes", 10, "Number of classes.")
flags.DEFINE_integer("eps", 20, "l0 budget in pixels.")
flags.DEFINE_integer("steps", 6, "sPGD steps of the multi-step run that (a) differences against 1.")
flags.DEFINE_integer("repeats", 5, "Interleaved timing repeats (medians are reported).")
flags.DEFINE_integer("saa_iterations", 20, "sPGD iterations per sAA stage for (c).")
flags.DEFINE_integer("saa_queries", 50, "Sparse-RS queries for (c).")
flags.DEFINE_integer("saa_batches", 3, "Timed sAA batches for (c), after one warm-up batch.")
flags.DEFINE_multi_enum("figures", ["a", "b", "c", "d", "e"], ["a", "b", "c", "d", "e"],
                        "Which figures to measure (repeat the flag): (a) and (b) are always "
                        "measured together with any of (a)-(d).")
flags.DEFINE_string("output", None, "Write the figures as JSON here.")


def main(argv):
    del argv
    figures = {"settings": {name: FLAGS[name].value for name in (
        "model", "width", "batch", "image_size", "num_classes", "eps", "steps", "repeats",
        "saa_iterations", "saa_queries", "saa_batches", "figures")}, "device": _device()}
    if set(FLAGS.figures) & {"a", "b", "c", "d"}:
        figures.update(_pass_figures(set(FLAGS.figures)))
        _print_table(figures)
    if "e" in FLAGS.figures:
        figures["e_stage_cost"] = stage_cost(FLAGS.model, FLAGS.width, FLAGS.image_size,
                                             FLAGS.batch, FLAGS.saa_iterations,
                                             FLAGS.saa_queries, FLAGS.repeats)
        print_stage_cost(figures["e_stage_cost"])
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            json.dump(figures, f, indent=2)


def _pass_figures(wanted):
    """Figures (a)-(d) on an untrained model and random images."""
    tf.keras.utils.set_random_seed(0)
    shape = (FLAGS.image_size, FLAGS.image_size, 3)
    net = build_model(FLAGS.model, shape, FLAGS.num_classes, width=FLAGS.width)
    model_fn = lambda images: net(images, training=False)  # noqa: E731
    images = tf.random.uniform([FLAGS.batch, *shape], seed=1)
    labels = tf.argmax(model_fn(images), axis=-1, output_type=tf.int32)

    timings = _interleaved(_timed_calls(net, model_fn, images, labels), FLAGS.repeats)
    medians = {name: statistics.median(times) for name, times in timings.items()}
    # (a): the multi-step KL run against the 1-step KL run, the same loss on both sides.
    iteration = statistics.median(
        (many - one) / (FLAGS.steps - 1)
        for many, one in zip(timings["spgd_multi_step_kl"], timings["spgd_1_step_kl"]))
    figures = {
        "seconds": medians,
        "spgd_iteration_seconds": iteration,
        "a_iteration_over_forward_backward": iteration / medians["forward_backward_input"],
        "b_1_step_over_forward_backward_forward":
            medians["spgd_1_step"] / medians["forward_backward_forward"],
        "b_1_step_no_clean_logits_over_forward_backward_2_forward":
            medians["spgd_1_step_no_clean_logits"] / medians["forward_backward_2_forward"],
    }
    if "c" in wanted:
        figures["c_saa_images_per_second"] = _saa_images_per_second(model_fn, images, labels)
    if "d" in wanted:
        fresh, kept = _saa_seconds_per_call(model_fn, images, labels)
        figures.update({"d_saa_fresh_call_seconds": fresh, "d_saa_kept_call_seconds": kept,
                        "d_fresh_over_kept": fresh / kept})
    return figures


def _timed_calls(net, model_fn, images, labels):
    """Name -> zero-argument callable returning a scalar that depends on the whole result."""
    clean_logits = model_fn(images)

    def cross_entropy(x):
        return tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, model_fn(x)))

    def input_gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = cross_entropy(x)
        return tape.gradient(loss, x)

    @tf.function
    def forward_backward_input():
        return tf.reduce_sum(input_gradient(images))

    @tf.function
    def forward_backward_weights():
        with tf.GradientTape() as tape:
            loss = cross_entropy(images)
        return tf.add_n([tf.reduce_sum(g) for g in tape.gradient(loss, net.trainable_variables)])

    @tf.function
    def forward_backward_forward():
        return tf.reduce_sum(input_gradient(images)) + tf.reduce_sum(model_fn(images + 0.5))

    @tf.function
    def forward_backward_2_forward():
        return (tf.reduce_sum(input_gradient(images)) + tf.reduce_sum(model_fn(images + 0.5))
                + tf.reduce_sum(model_fn(images * 0.5)))

    def spgd(steps, loss, given_logits):
        @tf.function
        def run():
            result = sparse_pgd(model_fn, images, labels, eps=FLAGS.eps, iterations=steps,
                                loss=loss,
                                clean_logits=clean_logits if given_logits else None)
            return tf.reduce_sum(result.adversarial) + tf.reduce_sum(result.loss)

        return run

    return {
        "forward_backward_input": forward_backward_input,
        "forward_backward_weights": forward_backward_weights,
        "forward_backward_forward": forward_backward_forward,
        "forward_backward_2_forward": forward_backward_2_forward,
        "spgd_1_step": spgd(1, "ce", True),
        "spgd_1_step_no_clean_logits": spgd(1, "ce", False),
        "spgd_multi_step_kl": spgd(FLAGS.steps, "kl", True),
        "spgd_1_step_kl": spgd(1, "kl", True),
    }


def _interleaved(calls, repeats):
    for call in calls.values():  # trace and warm up
        call().numpy()
    timings = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call().numpy()
            timings[name].append(time.perf_counter() - start)
    return timings


def _saa_images_per_second(model_fn, images, labels):
    """sAA over a warm-up batch (tracing) then ``saa_batches`` timed copies of the same batch."""
    stamps = []
    sparse_autoattack(model_fn, batches=[(images, labels)] * (1 + FLAGS.saa_batches),
                      eps=FLAGS.eps, iterations=FLAGS.saa_iterations, queries=FLAGS.saa_queries,
                      keep_adversarial=False,
                      progress=lambda event: stamps.append((event["batch"], time.perf_counter())))
    batch_end = {batch: stamp for batch, stamp in stamps}  # the last stage's stamp per batch
    per_batch = [batch_end[b] - batch_end[b - 1] for b in range(1, 1 + FLAGS.saa_batches)]
    return int(images.shape[0]) / statistics.median(per_batch)


def _saa_seconds_per_call(model_fn, images, labels):
    """(d): median seconds of a one-batch sAA call, fresh cascade and kept cascade, interleaved."""
    budget = {"eps": FLAGS.eps, "iterations": FLAGS.saa_iterations, "queries": FLAGS.saa_queries}
    kept = SparseAutoAttack(model_fn, **budget)
    kept([(images, labels)], keep_adversarial=False)  # its one trace
    fresh_seconds, kept_seconds = [], []
    for _ in range(FLAGS.saa_batches):
        start = time.perf_counter()
        sparse_autoattack(model_fn, batches=[(images, labels)], keep_adversarial=False, **budget)
        fresh_seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        kept([(images, labels)], keep_adversarial=False)
        kept_seconds.append(time.perf_counter() - start)
    return statistics.median(fresh_seconds), statistics.median(kept_seconds)


def _device():
    gpus = tf.config.list_physical_devices("GPU")
    return f"{len(gpus)} GPU" if gpus else f"CPU, {os.cpu_count()} cores"


def _print_table(figures):
    seconds = figures["seconds"]
    rows = [(name, f"{1000 * value:9.1f} ms") for name, value in sorted(seconds.items())]
    rows += [
        ("sPGD iteration", f"{1000 * figures['spgd_iteration_seconds']:9.1f} ms"),
        ("(a) iteration / fwd+bwd",
         f"{figures['a_iteration_over_forward_backward']:9.3f} x  (target <= 1.15)"),
        ("(b) 1-step / (fwd+bwd + fwd)",
         f"{figures['b_1_step_over_forward_backward_forward']:9.3f} x  (target <= 1.15)"),
        ("(b') 1-step, no clean logits / (fwd+bwd + 2 fwd)",
         f"{figures['b_1_step_no_clean_logits_over_forward_backward_2_forward']:9.3f} x"),
    ]
    if "c_saa_images_per_second" in figures:
        rows.append(("(c) sAA images/s", f"{figures['c_saa_images_per_second']:9.1f}"))
    if "d_fresh_over_kept" in figures:
        rows += [
            ("(d) sAA call, fresh cascade", f"{figures['d_saa_fresh_call_seconds']:9.2f} s"),
            ("(d) sAA call, kept cascade", f"{figures['d_saa_kept_call_seconds']:9.2f} s"),
            ("(d) fresh / kept", f"{figures['d_fresh_over_kept']:9.2f} x"),
        ]
    settings = figures["settings"]
    print(f"{settings['model']} width {settings['width']}, batch {settings['batch']}, "
          f"{settings['image_size']}x{settings['image_size']}, eps {settings['eps']}, "
          f"{figures['device']}, medians of {settings['repeats']}")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    run_main(main)
