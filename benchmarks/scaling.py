"""How the cost of a training step grows: with sPGD steps, batch size and eps; and the epoch time
with the number of training images.

    python -m benchmarks.scaling                                   # PreAct ResNet-18, GPU
    python -m benchmarks.scaling --model=small_cnn --width=0.25 --rounds=3 --output_dir=/tmp/s

What is timed: the trainer's own step (``build_trainer`` + ``tf.function(trainer.train_step)``,
as ``benchmarks/step_cost.py`` does), every sweep's candidates interleaved round by round
(``benchmarks/timing.py``), the median reported.

Making the attack's job realistic. sPGD stops attacking an image once it is fooled and leaves its
loop when every image is; images misclassified before the attack are not attacked at all. On an
untrained model with real labels, 90% of the images are skipped and the rest fall at the first
step, so 20 steps would look nearly free. Here, instead:
- the labels are the model's own clean predictions, so every image is attacked;
- the model stays the same from call to call, and with it the attack's job: the learning rate is
  0 and BatchNorm's moving statistics are set to the batch's own and then held (momentum 1). The
  whole step still runs: gradients, optimiser update, statistics update, SAT buffer;
- the budget is ``--eps`` = 1 pixel by default, which rarely fools an image, so multi-step attacks
  run their full length: an upper bound of the cost (real training stops each image's attack
  once it is fooled). The eps sweep varies eps at ``--eps_sweep_steps`` steps;
- every row reports ``unfooled %``: the share of the timed batch that one more run of the
  method's attack (after the timing) leaves classified as labelled, in inference mode as the
  attack sees it. Near 100% means every image took every step; lower means early stop cut the
  work (and the row's time is below the full-length cost).
The epoch sweep runs the trainer's data pipeline (``training_dataset``, without augmentation so
that the images are those the labels were predicted on) over ``n`` images for one epoch.
"""

import functools
import os

import keras
import numpy as np
import tensorflow as tf
from absl import flags, logging

from benchmarks.timing import interleaved_medians, markdown_table
from tf_fastls0 import data as data_lib
from tf_fastls0.data.image_set import DataSplits, ImageSet
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.run import build_trainer
from tf_fastls0.training import recipe as recipe_lib
from tf_fastls0.utils import settings
from tf_fastls0.utils.atomic import write_json
from tf_fastls0.utils.cli import run_main

PRESETS = {
    "standard": dict(method="standard"),
    "sparse_at": dict(method="sparse_at"),
    "tradeoff": dict(method="tradeoff"),
    "strades_t": dict(method="strades", trades_mode="T"),
    "strades_f": dict(method="strades", trades_mode="F"),
    "fast_ls_l0_t": dict(method="fast_ls_l0", trades_mode="T"),
    "fast_ls_l0_f": dict(method="fast_ls_l0", trades_mode="F"),
}
WARMUP_CALLS = 2  # the first traces the step

flags.DEFINE_enum("method", "sparse_at", sorted(PRESETS), "Training method timed in every sweep.")
settings.define_flags(TrainConfig, only=("model", "width", "batch_size", "jit_compile"))
flags.DEFINE_integer("image_size", 32, "Square size of the synthetic images.", lower_bound=4)
flags.DEFINE_integer("num_classes", 10, "Classes of the synthetic data.", lower_bound=2)
flags.DEFINE_string("data_dir", None, "Time on these real images (an image folder) instead of "
                    "synthetic ones.")
flags.DEFINE_integer("attack_steps", 1, "sPGD steps of the batch-size and epoch sweeps.",
                     lower_bound=1)
flags.DEFINE_integer("eps", 1, "l0 budget (pixels) of the steps, batch-size and epoch sweeps; "
                     "1 keeps images unfooled so attacks run their full length.", lower_bound=1)
flags.DEFINE_list("steps_sweep", ["1", "2", "5", "10", "20"], "sPGD steps to time.")
flags.DEFINE_list("batch_sweep", ["32", "64", "128", "256"], "Batch sizes to time.")
flags.DEFINE_list("eps_sweep", ["1", "5", "20", "60", "120"], "Budgets (pixels) to time.")
flags.DEFINE_integer("eps_sweep_steps", 1, "sPGD steps of the eps sweep.", lower_bound=1)
flags.DEFINE_list("train_sizes", ["1280", "2560", "5120"], "Training-set sizes of the epoch "
                  "sweep (empty: no epoch sweep).")
flags.DEFINE_integer("rounds", 5, "Interleaved rounds of the step sweeps (median reported).",
                     lower_bound=1)
flags.DEFINE_integer("steps_per_round", 2, "Steps per candidate per round.", lower_bound=1)
flags.DEFINE_integer("epoch_rounds", 1, "Interleaved rounds of the epoch sweep.", lower_bound=1)
flags.DEFINE_string("output_dir", None, "Also write scaling.md, scaling.json and scaling.png here.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    # Every candidate is its own tf.function, and building one re-seeds Keras, which makes the
    # others retrace once (done before the timing, in ``_measure``): TF's warning about it is noise.
    tf.get_logger().setLevel("ERROR")
    images = _images(max([FLAGS.batch_size] + _ints(FLAGS.batch_sweep) + _ints(FLAGS.train_sizes)))
    sweeps = {
        "attack steps": _step_sweep(images, "attack_iterations", _ints(FLAGS.steps_sweep)),
        "batch size": _step_sweep(images, "batch_size", _ints(FLAGS.batch_sweep)),
        f"eps (pixels, {FLAGS.eps_sweep_steps}-step attack)": _step_sweep(
            images, "train_eps", _ints(FLAGS.eps_sweep), attack_iterations=FLAGS.eps_sweep_steps),
    }
    if FLAGS.train_sizes:
        sweeps["training images"] = _epoch_sweep(images, _ints(FLAGS.train_sizes))
    page = _markdown(sweeps)
    print(page)
    if FLAGS.output_dir:
        os.makedirs(FLAGS.output_dir, exist_ok=True)
        with open(os.path.join(FLAGS.output_dir, "scaling.md"), "w") as handle:
            handle.write(page)
        write_json(os.path.join(FLAGS.output_dir, "scaling.json"),
                   {"settings": _settings(), "sweeps": sweeps})
        _plot(sweeps, os.path.join(FLAGS.output_dir, "scaling.png"))


def _ints(values):
    return [int(value) for value in values]


def _config(**changes):
    base = dict(model=FLAGS.model, width=FLAGS.width, batch_size=FLAGS.batch_size, epochs=10,
                train_eps=FLAGS.eps, attack_iterations=FLAGS.attack_steps, soft_label_start_epoch=0,
                learning_rate=0.0, augment=False, jit_compile=FLAGS.jit_compile,
                mixed_precision="off",  # float32 on every machine, as the results it sits beside
                **PRESETS[FLAGS.method])
    return TrainConfig(**{**base, **changes})


def _images(count):
    """``count`` training images: the first of ``--data_dir``, else uniform noise."""
    if FLAGS.data_dir:
        splits = data_lib.load_data(data_lib.DataConfig(data_dir=FLAGS.data_dir,
                                                        max_train_examples=count,
                                                        max_eval_examples=1))
        return splits.train.images[:count]
    shape = (count, FLAGS.image_size, FLAGS.image_size, 3)
    return np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)


def _splits(images):
    labels = np.zeros(len(images), np.int32)  # replaced by the model's own predictions
    image_set = ImageSet(images, labels, tuple(str(i) for i in range(FLAGS.num_classes)))
    return DataSplits("scaling", image_set, image_set)


def _own_predictions(trainer, images, batch_size=512):
    return np.concatenate([
        np.argmax(trainer.network(tf.constant(images[i:i + batch_size], tf.float32) / 255.0,
                                  training=False), -1).astype(np.int32)
        for i in range(0, len(images), batch_size)])


def _step_sweep(images, field, values, **fixed):
    """One row per value of TrainConfig ``field``: median seconds per training step."""
    print(f"timing {field} = {values} ...", flush=True)
    configs = {value: _config(**{**fixed, field: value}) for value in values}
    timed = {value: _timed_step(config, images[:config.batch_size])
             for value, config in configs.items()}
    return _measure(field, timed, FLAGS.rounds, FLAGS.steps_per_round,
                    {value: config.batch_size for value, config in configs.items()})


def _epoch_sweep(images, sizes):
    """One row per training-set size: median seconds of one epoch through the data pipeline."""
    print(f"timing epochs of {sizes} images ...", flush=True)
    timed = {size: _timed_epoch(_config(), images[:size]) for size in sizes}
    return _measure("train_examples", timed, FLAGS.epoch_rounds, 1,
                    {size: size // FLAGS.batch_size * FLAGS.batch_size for size in sizes})


def _measure(field, timed, rounds, calls_per_round, images_per_call):
    """Times the (call, probe) pairs of ``timed`` interleaved; returns the sweep's rows."""
    for call, _ in timed.values():
        call()  # building later candidates makes earlier steps retrace once: not in the timing
    medians = interleaved_medians({value: call for value, (call, _) in timed.items()},
                                  rounds, calls_per_round)
    first = next(iter(medians.values()))
    return {"field": field, "rows": [{
        "value": value, "seconds": medians[value],
        "images_per_second": images_per_call[value] / medians[value],
        "ratio_to_first": medians[value] / first, "unfooled_percent": probe()}
        for value, (_, probe) in timed.items()]}


def _timed_step(config, images):
    """A warmed-up zero-argument call of one training step, and a probe of its unfooled share."""
    trainer, _ = build_trainer(config, _splits(images))
    step = tf.function(trainer.train_step, jit_compile=config.jit_compile or None)
    batch = _own_batch(trainer, step, images)

    def call():
        float(step(batch)["loss"])  # the float waits for the device

    return call, functools.partial(_unfooled_percent, trainer, batch)


def _own_batch(trainer, step, images):
    """The batch of ``images`` labelled with the model's own predictions, with BatchNorm's
    moving statistics set to the batch's own and then held (so the labels stay the model's
    predictions in every timed call), after warm-up calls that trace ``step``."""
    pixels = tf.constant(images, tf.float32) / 255.0
    indices = tf.range(len(images), dtype=tf.int64)
    _hold_batchnorm_statistics(trainer.network, pixels)
    labels = tf.constant(_own_predictions(trainer, images))
    for _ in range(WARMUP_CALLS):
        step((pixels, labels, indices))
    return pixels, labels, indices


def _hold_batchnorm_statistics(network, pixels):
    """Moving statistics := those of ``pixels`` (one training-mode pass with momentum 0), then
    momentum 1 before the step is traced: the same update ops run, but change nothing. At
    initialisation the moving statistics (0 and 1) fit no data, and with the usual momentum they
    drift for ~50 steps, during which inference-mode predictions (what the attack sees) change."""
    layers = [layer for layer in network._flatten_layers(include_self=False)
              if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in layers:
        layer.momentum = 0.0
    network(pixels, training=True)
    for layer in layers:
        layer.momentum = 1.0


def _unfooled_percent(trainer, batch):
    """The share of the batch the method's attack leaves classified as labelled (inference
    mode, as the attack sees it); None for standard training."""
    if not trainer.recipe.adversarial:
        return None
    step = tf.convert_to_tensor(trainer.optimizer.iterations)
    prepared = recipe_lib.prepare(trainer.recipe, trainer.network, trainer.states, *batch, step,
                                  trainer.steps_per_epoch)
    predictions = tf.argmax(trainer.network(prepared.adversarial, training=False), -1,
                            output_type=tf.int32)
    return 100.0 * float(tf.reduce_mean(tf.cast(predictions == batch[1], tf.float32)))


def _timed_epoch(config, images):
    trainer, _ = build_trainer(config, _splits(images))
    step = tf.function(trainer.train_step, jit_compile=config.jit_compile or None)
    first_batch = _own_batch(trainer, step, images[:config.batch_size])
    labelled = ImageSet(images, _own_predictions(trainer, images),
                        tuple(str(i) for i in range(FLAGS.num_classes)))

    def epoch():
        logs = None
        for batch in data_lib.training_dataset(labelled, config.batch_size, 1, augment=False):
            logs = step(batch)
        float(logs["loss"])

    return epoch, functools.partial(_unfooled_percent, trainer, first_batch)


def _markdown(sweeps):
    unit = {"train_examples": "s/epoch"}
    parts = [f"# Scaling of {FLAGS.method} ({FLAGS.model} x{FLAGS.width}, batch "
             f"{FLAGS.batch_size}, {FLAGS.attack_steps}-step attack, eps {FLAGS.eps} unless "
             "varied; labels = the model's own predictions; model held fixed (learning rate 0, "
             "BatchNorm statistics held); medians of "
             f"{FLAGS.rounds} interleaved rounds)"]
    for name, sweep in sweeps.items():
        rows = [[row["value"], f"{row['seconds']:.4f}", f"{row['images_per_second']:.1f}",
                 f"{row['ratio_to_first']:.2f}", _percent(row["unfooled_percent"])]
                for row in sweep["rows"]]
        parts += ["", f"## {name}", "", markdown_table(
            [name, unit.get(sweep["field"], "s/step"), "images/s", "x first",
             "unfooled % (100 = full-length attack)"], rows)]
        if sweep["field"] == "attack_iterations" and len(sweep["rows"]) > 1:
            slope = np.polyfit([r["value"] for r in sweep["rows"]],
                               [r["seconds"] for r in sweep["rows"]], 1)[0]
            parts.append(f"\nEach extra sPGD step adds {slope:.4f} s (least-squares slope).")
    return "\n".join(parts) + "\n"


def _percent(value):
    return "" if value is None else f"{value:.1f}"


def _settings():
    return {name: FLAGS[name].value for name in (
        "method", "model", "width", "image_size", "data_dir", "batch_size", "attack_steps", "eps",
        "eps_sweep_steps", "rounds", "steps_per_round", "epoch_rounds", "jit_compile")} | {
        "devices": [d.name for d in tf.config.list_logical_devices()],
        "tensorflow_version": tf.__version__}


def _plot(sweeps, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(sweeps), figsize=(4.2 * len(sweeps), 3.6), squeeze=False)
    for axis, (name, sweep) in zip(axes[0], sweeps.items()):
        values = [row["value"] for row in sweep["rows"]]
        axis.plot(values, [row["seconds"] for row in sweep["rows"]], "o-")
        axis.set_xlabel(name)
        axis.set_ylabel("seconds per epoch" if sweep["field"] == "train_examples"
                        else "seconds per step")
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
    figure.suptitle(f"{FLAGS.method}, {FLAGS.model} x{FLAGS.width}", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    run_main(main)
