"""Time per training step of every method, in one process, interleaved.

    python -m benchmarks.step_cost                          # PreAct ResNet-18, batch 128
    python -m benchmarks.step_cost --width=0.25 --batch_size=32 --rounds=3   # quick, CPU

Reports the median seconds per step of each method, images/s, and the ratios to 1-step sAT and
to standard training. The paper's targets: Fast-LS-l0 (T) <= 1.25x of 1-step sAT, (F) <= 1.5x;
20-step sAT >= 5x Fast-LS-l0 (T). The floor for Fast-LS-l0 (T) is about three forward+backward
passes of standard training.
"""

import os
import platform

import numpy as np
import tensorflow as tf
from absl import flags, logging

from tf_fastls0.data.image_set import ImageSet
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.run import build_trainer
from tf_fastls0.data.image_set import DataSplits
from tf_fastls0.utils import settings
from tf_fastls0.utils.atomic import write_json
from tf_fastls0.utils.cli import run_main
from benchmarks.timing import markdown_table, training_step_medians

METHODS = {
    "standard": dict(method="standard"),
    "sat_1step": dict(method="sparse_at", attack_iterations=1),
    "tradeoff_1step": dict(method="tradeoff", attack_iterations=1),
    "strades_t_1step": dict(method="strades", trades_mode="T", attack_iterations=1),
    "strades_f_1step": dict(method="strades", trades_mode="F", attack_iterations=1),
    "fast_ls_l0_t": dict(method="fast_ls_l0", trades_mode="T", attack_iterations=1),
    "fast_ls_l0_f": dict(method="fast_ls_l0", trades_mode="F", attack_iterations=1),
    "sat_20step": dict(method="sparse_at", attack_iterations=20),
    "strades_20step": dict(method="strades", trades_mode="T", attack_iterations=20),
    # Table 6's other fast methods, on the same 1-step sPGD (GradAlign+S&N: the S&N add-ons).
    "mart": dict(method="mart", attack_iterations=1),
    "label_smoothing": dict(method="label_smoothing", attack_iterations=1),
    "nuat": dict(method="nuat", attack_iterations=1),
    "advlc": dict(method="advlc", attack_iterations=1),
    "grad_align": dict(method="grad_align", attack_iterations=1),
    "grad_align_sn": dict(method="grad_align", attack_iterations=1, soft_labels="self_adaptive",
                          nfgsm_noise=True),
    "atta": dict(method="atta", attack_iterations=1),
    "atta_sn": dict(method="atta", attack_iterations=1, soft_labels="self_adaptive",
                    nfgsm_noise=True),
    "fast_ls_l0_awp": dict(method="fast_ls_l0", trades_mode="T", attack_iterations=1,
                           awp_enabled=True, awp_gamma=0.005),
    "n_aaer": dict(method="n_aaer", attack_iterations=1),
    "n_lap": dict(method="n_lap", attack_iterations=1),
    "fast_bat": dict(method="fast_bat", attack_iterations=1),
    "flc_pool": dict(method="sparse_at", attack_iterations=1,
                     model="preact_resnet18_flc"),  # its own model
}

flags.DEFINE_list("methods", list(METHODS), f"Methods to time, from {', '.join(METHODS)}.")
settings.define_flags(TrainConfig, only=("model", "width", "batch_size", "jit_compile",
                                         "mixed_precision"))
# Timings name their precision: float32 unless asked, not training's machine-dependent auto.
flags.FLAGS.set_default("mixed_precision", "off")
flags.DEFINE_integer("image_size", 32, "Square image size.", lower_bound=4)
flags.DEFINE_integer("num_classes", 10, "Number of classes.", lower_bound=2)
flags.DEFINE_integer("train_eps", 1, "Training l0 budget (pixels). The default of 1 pixel, with "
                     "labels set to the model's own predictions, keeps the attack from succeeding "
                     "early, so multi-step methods are timed at their full step count (an upper "
                     "bound: real training stops each image's attack once it is fooled).",
                     lower_bound=1)
flags.DEFINE_integer("rounds", 5, "Interleaved rounds; the median is reported.", lower_bound=1)
flags.DEFINE_integer("steps_per_round", 2, "Steps timed per method in each round.", lower_bound=1)
flags.DEFINE_string("output", None, "Write the results as JSON here as well.")
flags.register_validator("methods", lambda names: all(n in METHODS for n in names),
                         f"--methods must name only: {', '.join(METHODS)}")

FLAGS = flags.FLAGS


def synthetic_splits(batch_size, image_size, num_classes):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (batch_size * 2, image_size, image_size, 3), dtype=np.uint8)
    labels = rng.integers(0, num_classes, batch_size * 2).astype(np.int32)
    image_set = ImageSet(images, labels, tuple(str(i) for i in range(num_classes)))
    return DataSplits("synthetic", image_set, image_set)


def method_config(name, **settings):
    """The ``TrainConfig`` this benchmark times for method ``name``: ``settings`` (its fields)
    with the method's ``METHODS`` entry, which may name its own model."""
    return TrainConfig(**{**dict(epochs=10, soft_label_start_epoch=0, **settings), **METHODS[name]})


def first_batch(splits, batch_size):
    """``(images, labels, example indices)`` of the first ``batch_size`` training images."""
    images = tf.constant(splits.train.float_images(slice(0, batch_size)))
    labels = tf.constant(splits.train.labels[:batch_size].astype("int32"))
    return images, labels, tf.range(batch_size, dtype=tf.int64)


def compiled_step(name, splits, **settings):
    """A warmed-up zero-argument call of one training step of method ``name``; ``settings``:
    ``TrainConfig`` fields (default: this program's flags)."""
    settings = settings or dict(model=FLAGS.model, width=FLAGS.width, batch_size=FLAGS.batch_size,
                                train_eps=FLAGS.train_eps, jit_compile=FLAGS.jit_compile,
                                mixed_precision=FLAGS.mixed_precision)
    config = method_config(name, **settings)
    trainer, _ = build_trainer(config, splits)
    images, _, indices = first_batch(splits, config.batch_size)
    own_predictions = tf.argmax(trainer.network(images, training=False), -1, output_type=tf.int32)
    batch = (images, own_predictions, indices)
    step = tf.function(trainer.train_step, jit_compile=config.jit_compile or None)

    def run():
        logs = step(batch)
        float(logs["loss"])  # wait for the device

    run()  # trace and warm up
    return run


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    splits = synthetic_splits(FLAGS.batch_size, FLAGS.image_size, FLAGS.num_classes)
    steps = {}
    for name in FLAGS.methods:
        print(f"building and warming up {name} ...", flush=True)
        steps[name] = compiled_step(name, splits)
    medians = training_step_medians(steps, FLAGS.rounds, FLAGS.steps_per_round)
    results = _results(medians)
    print(markdown_table(["method", "s/step", "images/s", "x 1-step sAT", "x standard"],
                         [[r["method"], f"{r['seconds_per_step']:.4f}",
                           f"{r['images_per_second']:.1f}", _fmt(r.get("ratio_to_sat_1step")),
                           _fmt(r.get("ratio_to_standard"))] for r in results["rows"]]))
    if FLAGS.output:
        os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
        write_json(FLAGS.output, results)


def _results(medians):
    rows = []
    for name, seconds in medians.items():
        row = {"method": name, "seconds_per_step": seconds,
               "images_per_second": FLAGS.batch_size / seconds}
        for reference in ("sat_1step", "standard"):
            if reference in medians:
                row[f"ratio_to_{reference}"] = seconds / medians[reference]
        rows.append(row)
    return {"rows": rows, "settings": {name: FLAGS[name].value for name in (
        "model", "width", "batch_size", "image_size", "train_eps", "rounds", "steps_per_round",
        "jit_compile", "mixed_precision")},
        "device": device_name(), "tensorflow_version": tf.__version__}


def device_name():
    """The first GPU's name, else the CPU's (and whether TensorFlow runs oneDNN's CPU kernels,
    ``tf_fastls0/__init__.py``: Eigen's are about half as fast on the backward convolutions)."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    kernels = "oneDNN" if onednn_enabled() else "Eigen"
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, {kernels})"


def onednn_enabled():
    """Whether this TensorFlow runs oneDNN's CPU kernels (``TF_ENABLE_ONEDNN_OPTS``)."""
    from tensorflow.python.util import _pywrap_util_port  # no public API says it

    return bool(_pywrap_util_port.IsMklEnabled())


def _fmt(value):
    return "" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    run_main(main)
