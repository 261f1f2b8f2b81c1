"""Everything worth knowing about a GPU for this project, in one call of at most 8 minutes.

    benchmarks/gpu/check.sh                 # on the GPU machine (calls this module)
    python -m benchmarks.gpu_check --tiny --output_dir=/tmp/check   # CPU, seconds: the code path

What it measures, in this order (each part is skipped, and says so, once ``--max_seconds`` would
be passed; the results are written after every part, so a stopped check keeps what it measured):

1. ``epoch``: one epoch of Fast-LS-l0 (T) (PreAct ResNet-18, batch 128, the paper's 100-epoch
   schedule) on the CIFAR-10 image folder through the real input pipeline
   (``data.training_dataset``, the trainer's own ``train_step``): images/s after the first
   (compiling) step, the share of that time spent waiting for the next batch (the GPU waits for
   data when it is more than a few percent), the input pipeline's own rate, and the projected
   time of the paper's 100 epochs beside the paper's 50 minutes on one RTX 6000 Ada.
2. ``saa``: Sparse-AutoAttack throughput at k = 20 with the quick budget (``saa_quick``: 100
   sPGD iterations per stage, 300 Sparse-RS queries, 500 test images in one batch) on the
   network of part 1, images/s over all images attacked.
3. ``steps``: seconds per training step of every Table 1 method (and standard training and
   Fast-LS-l0 (T), the references) at batch 128 on PreAct ResNet-18, through
   ``benchmarks.step_cost``, in float32 and bfloat16, XLA off and on (interleaved medians within
   each setting), and from each setting the 100 epochs Fast-LS-l0 (T) would take without waiting
   for input.
4. ``fit``: what Keras' ``fit`` adds per step on this device: Fast-LS-l0 (T)'s step (float32,
   XLA off, as the steps part) called bare and waited for, beside ``fit`` over the same batch
   with the run's per-step callbacks at 1 and 8 steps per execution (``--steps_per_execution``;
   ``benchmarks.profile_step``'s fit variants), ms per step and the ratio to the bare step.

Peak GPU memory (``tf.config.experimental.get_memory_info``) is recorded per part where the
device reports it, with the TensorFlow, Keras, CUDA/cuDNN and driver versions. Results go to
``<output_dir>/results.json`` and ``<output_dir>/summary.md``, by default
``benchmarks/results/gpu_check/<device>/``.

``--tiny`` checks the code path on any machine in seconds: a quarter-width small CNN, batch 16,
64 training and 8 test images, XLA off, standard and Fast-LS-l0 only, one timed step each, the
attack's budget cut to a few iterations; its figures mean nothing.
"""

import os
import platform
import re
import subprocess
import time

import keras
import tensorflow as tf
from absl import flags

from benchmarks import step_cost
from benchmarks.profile_step import fit_call
from benchmarks.timing import interleaved_medians, markdown_table
from tf_fastls0 import data as data_lib
from tf_fastls0.attacks import SparseAutoAttack
from tf_fastls0.data import DataError
from tf_fastls0.data.config import DataConfig
from tf_fastls0.evaluation.budgets import BUDGETS
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.run import build_trainer
from tf_fastls0.utils.atomic import atomic_path, write_json
from tf_fastls0.utils.cli import UsageError, fail, refuse_positional_arguments, run_main

PAPER_EPOCHS = 100
PAPER_MINUTES = 50  # Fast-LS-l0, 100 CIFAR-10 epochs on one RTX 6000 Ada (paper Table 4a)
TABLE1_METHODS = ("standard", "fast_ls_l0_t", "sat_1step", "strades_t_1step", "sat_20step",
                  "strades_20step")
SETTINGS = (("off", False), ("mixed_bfloat16", False), ("off", True), ("mixed_bfloat16", True))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

flags.DEFINE_bool("tiny", False, "A seconds-long check of the code path (tiny model, few steps, "
                  "a handful of images, XLA off, two methods); its figures mean nothing.")
flags.DEFINE_string("output_dir", None, "Where results.json and summary.md go (default "
                    "benchmarks/results/gpu_check/<device>).")
flags.DEFINE_string("data_dir", os.path.join(os.path.dirname(REPO), "shared", "data",
                                             "cifar10-jpeg"),
                    "The CIFAR-10 image folder (train/<class>/*, test/<class>/*).")
flags.DEFINE_float("max_seconds", 450, "Skip the parts that would start after this many seconds.",
                   lower_bound=1)
flags.DEFINE_string("epoch_precision", "off", "--mixed_precision of the epoch (part 1).")
flags.DEFINE_bool("epoch_xla", True, "Compile the epoch's training step with XLA (part 1).")
flags.register_validator("epoch_precision", lambda v: v in ("off", "mixed_bfloat16",
                                                            "mixed_float16"),
                         "--epoch_precision must be off, mixed_bfloat16 or mixed_float16")

FLAGS = flags.FLAGS


def main(argv):
    refuse_positional_arguments(argv)
    if not os.path.isdir(FLAGS.data_dir):
        fail(f"--data_dir={FLAGS.data_dir}: no such folder (the CIFAR-10 image folder)")
    try:
        check()
    except (DataError, UsageError) as error:
        fail(str(error))


def check():
    """Runs the parts and writes their results (see the module docstring)."""
    started = time.perf_counter()
    scale = _scale(FLAGS.tiny)
    device = step_cost.device_name()
    output_dir = FLAGS.output_dir or os.path.join(REPO, "benchmarks", "results", "gpu_check",
                                                  _folder_name(device))
    os.makedirs(output_dir, exist_ok=True)
    results = {"device": device, "tiny": FLAGS.tiny, "scale": scale, "versions": _versions(),
               "paper": {"epochs": PAPER_EPOCHS, "minutes": PAPER_MINUTES}}

    def left():
        return FLAGS.max_seconds - (time.perf_counter() - started)

    network = None
    parts = [("epoch", lambda: _epoch(scale)), ("saa", lambda: _saa(scale, network)),
             ("steps", lambda: _steps(scale, left)), ("fit", lambda: _fit(scale))]
    for name, part in parts:
        if left() <= 0 or (name == "saa" and network is None):
            results[name] = {"skipped": "out of time" if left() <= 0 else "no epoch network"}
        else:
            print(f"=== {name} ({left():.0f} s left) ===", flush=True)
            _reset_peak_memory()
            results[name], network = _with_network(part(), network)
            results[name]["peak_gpu_memory_bytes"] = _peak_memory()
        results["wall_seconds"] = time.perf_counter() - started
        write_json(os.path.join(output_dir, "results.json"), results)
        with atomic_path(os.path.join(output_dir, "summary.md")) as path, open(path, "w") as out:
            out.write(_summary(results))
    print(_summary(results))
    print(f"written to {output_dir}")


def _scale(tiny):
    """The sizes of the check: the paper's, or tiny ones for a CPU run of the code path."""
    if tiny:
        return dict(model="small_cnn", width=0.25, batch_size=16, train_images=64,
                    test_images=8, rounds=1, steps_per_round=1, saa_iters=2, saa_queries=4,
                    eps=20, epoch_xla=False, fit_steps=2, fit_groups=(1, 2),
                    settings=SETTINGS[:2], methods=("standard", "fast_ls_l0_t"))
    quick = BUDGETS["saa_quick"]
    return dict(model="preact_resnet18", width=1.0, batch_size=128, train_images=None,
                test_images=quick["n_examples"], rounds=3, steps_per_round=3,
                saa_iters=quick["iterations"], saa_queries=quick["queries"], eps=20,
                epoch_xla=FLAGS.epoch_xla, fit_steps=32, fit_groups=(1, 8), settings=SETTINGS,
                methods=TABLE1_METHODS)


def _with_network(outcome, network):
    """A part returns its results, or its results and the network later parts attack."""
    return outcome if isinstance(outcome, tuple) else (outcome, network)


def _epoch(scale):
    data = DataConfig(data_dir=FLAGS.data_dir, max_train_examples=scale["train_images"],
                      max_eval_examples=scale["test_images"])
    loading = time.perf_counter()
    splits = data_lib.load_data(data)
    load_seconds = time.perf_counter() - loading
    config = TrainConfig(model=scale["model"], width=scale["width"], method="fast_ls_l0",
                         trades_mode="T", epochs=PAPER_EPOCHS, batch_size=scale["batch_size"],
                         eval_eps=20, data=data, jit_compile=scale["epoch_xla"],
                         mixed_precision=FLAGS.epoch_precision)
    trainer, _ = build_trainer(config, splits)
    step = tf.function(trainer.train_step, jit_compile=config.jit_compile or None)
    steps = data_lib.steps_per_epoch(splits.train, config.batch_size)
    batches = iter(data_lib.training_dataset(splits.train, config.batch_size, 1, config.seed))
    first = time.perf_counter()
    float(step(next(batches))["loss"])  # trace, compile and run the first step
    timed = time.perf_counter()
    first_seconds, waiting = timed - first, 0.0
    for _ in range(steps - 1):
        asked = time.perf_counter()
        batch = next(batches)
        waiting += time.perf_counter() - asked
        logs = step(batch)
        float(logs["loss"])  # the step is done (as Keras' callbacks wait for it)
    seconds = time.perf_counter() - timed
    images_per_second = (steps - 1) * config.batch_size / max(seconds, 1e-9)
    epoch_seconds = len(splits.train) / images_per_second
    return {
        "model": config.model, "train_images": len(splits.train), "batch_size": config.batch_size,
        "mixed_precision": config.mixed_precision, "jit_compile": config.jit_compile,
        "load_seconds": load_seconds, "first_step_seconds": first_seconds,
        "images_per_second": images_per_second,
        "waiting_for_data_fraction": waiting / max(seconds, 1e-9),
        "gpu_waits_for_data": waiting / max(seconds, 1e-9) > 0.05,
        "input_pipeline_images_per_second": _input_rate(splits.train, config.batch_size, steps),
        "final_loss": float(logs["loss"]) if steps > 1 else None,
        "projected_minutes_100_epochs": PAPER_EPOCHS * epoch_seconds / 60,
    }, trainer.network


def _input_rate(train, batch_size, steps):
    """Images/s of the training pipeline alone (no model), after its first batch."""
    batches = iter(data_lib.training_dataset(train, batch_size, 2, seed=1))
    next(batches)[0].numpy()
    count = min(steps - 1, 50)
    started = time.perf_counter()
    for _ in range(count):
        next(batches)[0].numpy()
    return count * batch_size / max(time.perf_counter() - started, 1e-9) if count else None


def _saa(scale, network):
    splits = data_lib.load_data(DataConfig(data_dir=FLAGS.data_dir, max_train_examples=64,
                                           max_eval_examples=scale["test_images"]))
    images, labels = splits.test.float_images(), splits.test.labels
    cascade = SparseAutoAttack(lambda x: network(x, training=False), eps=scale["eps"],
                               iterations=scale["saa_iters"], queries=scale["saa_queries"])
    cascade([(images[:4], labels[:4])])  # trace the stages first
    started = time.perf_counter()
    report = cascade([(images, labels)]).report
    seconds = time.perf_counter() - started
    return {"k": scale["eps"], "iterations": scale["saa_iters"], "queries": scale["saa_queries"],
            "images": len(images), "seconds": seconds, "images_per_second": len(images) / seconds,
            "attacked_images_per_second": report["clean_accuracy"] * len(images) / seconds,
            "clean_accuracy": report["clean_accuracy"],
            "robust_accuracy": report["robust_accuracy"]}


def _steps(scale, left):
    splits = step_cost.synthetic_splits(scale["batch_size"], 32, 10)
    rows = []
    for precision, xla in scale["settings"]:
        calls = {}
        for name in scale["methods"]:
            if left() <= 0:
                break
            print(f"building {name} ({precision}, XLA {'on' if xla else 'off'})", flush=True)
            calls[name] = step_cost.compiled_step(
                name, splits, model=scale["model"], width=scale["width"],
                batch_size=scale["batch_size"], train_eps=1, jit_compile=xla,
                mixed_precision=precision)
        medians = interleaved_medians(calls, scale["rounds"], scale["steps_per_round"],
                                      warmup_rounds=1)
        for name, seconds in medians.items():
            rows.append({"method": name, "mixed_precision": precision, "jit_compile": xla,
                         "seconds_per_step": seconds,
                         "images_per_second": scale["batch_size"] / seconds})
        keras.backend.clear_session()  # free the traced steps of this setting
    return {"batch_size": scale["batch_size"], "model": scale["model"],
            "width": scale["width"], "train_eps": 1, "rows": rows,
            "projected_minutes_100_epochs": _projections(rows, scale),
            "complete": len(rows) == len(scale["settings"]) * len(scale["methods"])}


def _fit(scale):
    splits = step_cost.synthetic_splits(scale["batch_size"], 32, 10)
    shape = dict(model=scale["model"], width=scale["width"], batch_size=scale["batch_size"],
                 train_eps=1)
    calls = {"bare step": step_cost.compiled_step("fast_ls_l0_t", splits, **shape)}
    for n in scale["fit_groups"]:
        config = step_cost.method_config("fast_ls_l0_t", **shape, steps_per_execution=n)
        trainer, _ = build_trainer(config, splits)
        calls[f"fit + callbacks, {n} per execution"] = fit_call(
            trainer, step_cost.first_batch(splits, config.batch_size), scale["fit_steps"],
            config.log_every_steps)
    medians = interleaved_medians(calls, scale["rounds"], warmup_rounds=1)
    per_step = {name: seconds / (1 if name == "bare step" else scale["fit_steps"])
                for name, seconds in medians.items()}
    return {"method": "fast_ls_l0_t", "fit_steps": scale["fit_steps"],
            "rows": [{"candidate": name, "seconds_per_step": seconds,
                      "ratio_to_bare": seconds / per_step["bare step"]}
                     for name, seconds in per_step.items()]}


def _projections(rows, scale):
    """Per setting: 100 epochs of 50,000 CIFAR-10 images at Fast-LS-l0 (T)'s step time."""
    steps = 50_000 // scale["batch_size"] * PAPER_EPOCHS
    return {f"{row['mixed_precision']}, XLA {'on' if row['jit_compile'] else 'off'}":
            steps * row["seconds_per_step"] / 60 for row in rows
            if row["method"] == "fast_ls_l0_t"}


def _reset_peak_memory():
    if tf.config.list_physical_devices("GPU"):
        tf.config.experimental.reset_memory_stats("GPU:0")


def _peak_memory():
    if not tf.config.list_physical_devices("GPU"):
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"]


def _versions():
    build = tf.sysconfig.get_build_info()
    versions = {"tensorflow": tf.__version__, "keras": keras.__version__,
                "python": platform.python_version(), "cuda": build.get("cuda_version"),
                "cudnn": build.get("cudnn_version"), "driver": None}
    try:
        versions["driver"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30, check=True).stdout.split("\n")[0].strip()
    except (OSError, subprocess.SubprocessError):
        pass  # no NVIDIA driver here
    return versions


def _folder_name(device):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", device).strip("_") or "device"


def _summary(results):
    lines = [f"# GPU check: {results['device']}" + (" (--tiny: figures mean nothing)"
                                                     if results["tiny"] else ""), "",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()), ""]
    epoch = results.get("epoch", {})
    if "images_per_second" in epoch:
        lines += [f"Fast-LS-l0 (T), one epoch of {epoch['train_images']} images ({epoch['model']}, "
                  f"batch "
                  f"{epoch['batch_size']}, {epoch['mixed_precision']}, XLA "
                  f"{'on' if epoch['jit_compile'] else 'off'}): {epoch['images_per_second']:.0f} "
                  f"images/s; waiting for data {100 * epoch['waiting_for_data_fraction']:.1f}% "
                  f"of the time (input pipeline alone: "
                  f"{_number(epoch['input_pipeline_images_per_second'])} images/s); first step "
                  f"{epoch['first_step_seconds']:.1f} s.",
                  f"Projected 100 epochs: {epoch['projected_minutes_100_epochs']:.1f} min "
                  f"(paper: {PAPER_MINUTES} min on one RTX 6000 Ada).", ""]
    saa = results.get("saa", {})
    if "images_per_second" in saa:
        lines += [f"sAA at k = {saa['k']} ({saa['iterations']} iterations, {saa['queries']} "
                  f"queries), {saa['images']} images: {saa['images_per_second']:.1f} images/s, "
                  f"{saa['attacked_images_per_second']:.1f} attacked (clean) images/s "
                  f"(clean accuracy {saa['clean_accuracy']:.3f}, robust "
                  f"{saa['robust_accuracy']:.3f}).",
                  ""]
    steps = results.get("steps", {})
    if steps.get("rows"):
        lines += [markdown_table(
            ["method", "precision", "XLA", "s/step", "images/s"],
            [[r["method"], r["mixed_precision"], "on" if r["jit_compile"] else "off",
              f"{r['seconds_per_step']:.4f}", f"{r['images_per_second']:.0f}"]
             for r in steps["rows"]]), ""]
        lines += [f"Fast-LS-l0 (T), 100 epochs at its step time ({setting}): {minutes:.1f} min"
                  for setting, minutes in steps["projected_minutes_100_epochs"].items()]
    fit = results.get("fit", {})
    if fit.get("rows"):
        lines += ["What Keras' fit adds to Fast-LS-l0 (T)'s step (float32, XLA off):", "",
                  markdown_table(["candidate", "ms/step", "x bare step"],
                                 [[r["candidate"], f"{1000 * r['seconds_per_step']:.2f}",
                                   f"{r['ratio_to_bare']:.3f}"] for r in fit["rows"]]), ""]
    for name in ("epoch", "saa", "steps", "fit"):
        part = results.get(name, {})
        if "skipped" in part:
            lines.append(f"{name}: skipped ({part['skipped']})")
        elif part.get("peak_gpu_memory_bytes") is not None:
            lines.append(f"{name}: peak GPU memory {part['peak_gpu_memory_bytes'] / 2**30:.2f} GiB")
    return "\n".join(lines) + "\n"


def _number(value):
    return "n/a" if value is None else f"{value:.0f}"


if __name__ == "__main__":
    run_main(main)
