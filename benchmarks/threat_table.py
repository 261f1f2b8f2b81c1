"""Robust accuracy under structured threats, and what a structured sPGD iteration costs.

    python -m benchmarks.threat_table --models=standard=runs/standard,fast_ls_l0=runs/fast \
        --output_dir=/tmp/threat_table
    python -m benchmarks.threat_table --models=tiny=/tmp/run --n_examples=8 --iterations=2 \
        --queries=3 --batch=4 --steps=3 --repeats=1 --output_dir=/tmp/tt   # a smoke run

(a) For every model (``label=path``: a run folder, SavedModel or ``.keras`` file) and every threat
    of ``--threats`` (``name:k[:patch_size[:placement]]``; default the issue's list: pixels k = 20,
    1 patch 5x5, 4 patches 3x3, 1 and 2 columns), the sAA robust accuracy at the quick budget
    (``python -m tf_fastls0.evaluate``'s own code; each report lands in
    ``<output_dir>/<label>/<threat>/report.json``; with ``--save_adversarial``, also
    ``adversarial.npz`` and its PNG grid of examples, broken ones first).
(b) One sPGD iteration under each threat over one pixel iteration, on an untrained ``--model`` at
    ``--batch`` random images: (T(steps) - T(1)) / (steps - 1) with the KL loss (no image stops
    early), timed interleaved (``timing.py``); medians over ``--repeats``.
Writes ``threat_table.json`` and ``threat_table.md`` into ``--output_dir``. ``--parts`` runs
one of the two (time (b) on a quiet machine apart from a long (a)); the part not run keeps its
figures from an earlier ``threat_table.json`` in the same folder. (a) resumes: a rerun skips the
evaluations whose ``report.json`` is written and continues an interrupted one.
"""

import json
import os

from absl import flags
import tensorflow as tf

from benchmarks.timing import interleaved_medians, markdown_table
from tf_fastls0.attacks import sparse_pgd
from tf_fastls0.attacks.threat_config import ThreatConfig
from tf_fastls0.evaluation import BUDGETS, EvalConfig, evaluate_model
from tf_fastls0.models import build_model
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.utils import settings
from tf_fastls0.utils.atomic import atomic_path, write_json
from tf_fastls0.data import DataError
from tf_fastls0.utils.cli import UsageError, fail, run_main
from tf_fastls0.utils.old_names import warn_old_flags

QUICK = BUDGETS["saa_quick"]
DEFAULT_THREATS = ("pixels:20", "patches:1:5", "patches:4:3", "columns:1", "columns:2")

FLAGS = flags.FLAGS
settings.define_flags(TrainConfig, only=("model", "width"))
flags.DEFINE_list("models", [], "label=path of each model to evaluate (none: only (b)).")
flags.DEFINE_list("threats", list(DEFAULT_THREATS), "name:k[:patch_size[:placement]] each.")
flags.DEFINE_integer("n_examples", QUICK["n_examples"], "Test images per evaluation.")
flags.DEFINE_integer("iterations", QUICK["iterations"], "sPGD iterations per sAA stage.")
flags.DEFINE_integer("queries", QUICK["queries"], "Sparse-RS queries.")
flags.DEFINE_alias("iters", "iterations")  # the old names, still accepted (deprecated)
flags.DEFINE_alias("rs_queries", "queries")
flags.DEFINE_integer("batch", 128, "Images per batch (evaluation and (b)).")
flags.DEFINE_integer("image_size", 32, "Height and width of (b)'s random images.")
flags.DEFINE_integer("steps", 6, "sPGD steps of the multi-step run (b) differences against 1.")
flags.DEFINE_integer("repeats", 5, "Interleaved timing repeats of (b).")
flags.DEFINE_string("output_dir", "/tmp/threat_table", "Where the reports and tables go.")
flags.DEFINE_multi_enum("parts", ["accuracy", "cost"], ["accuracy", "cost"],
                        "Which parts to run: accuracy (a), cost (b).")
flags.DEFINE_bool("save_adversarial", False, "Also save each evaluation's adversarial images "
                  "and their PNG grid.")


def parse_threat(spec):
    """``name:k[:patch_size[:placement]]`` -> (label, ``ThreatConfig``, k)."""
    parts = spec.split(":")
    try:
        name, k = parts[0], int(parts[1])
        patch_size = int(parts[2]) if len(parts) > 2 else 3
    except (IndexError, ValueError):
        raise UsageError(f"--threats entry {spec!r} is not name:k[:patch_size[:placement]]") \
            from None
    placement = parts[3] if len(parts) > 3 else "anywhere"
    label = spec.replace(":", "_")
    return label, ThreatConfig(threat=name, patch_size=patch_size, patch_placement=placement), k


def robust_accuracy_table(models, specs):
    """(a): rows of (model, threat, k, unit, clean %, robust %)."""
    rows = []
    for entry in models:
        label, _, path = entry.partition("=")
        if not path:
            raise UsageError(f"--models entry {entry!r} is not label=path")
        for spec in specs:
            threat_label, threat, k = parse_threat(spec)
            output_dir = os.path.join(FLAGS.output_dir, label, threat_label)
            os.makedirs(output_dir, exist_ok=True)
            saved = os.path.join(output_dir, "adversarial.npz") if FLAGS.save_adversarial \
                else None
            report = _finished_report(output_dir) or evaluate_model(EvalConfig(
                model=path, eps=k, iterations=FLAGS.iterations, queries=FLAGS.queries,
                n_examples=FLAGS.n_examples, batch_size=FLAGS.batch, progress=False,
                output_dir=output_dir, save_adversarial=saved, resume=True,
                threat_model=threat))
            rows.append({"model": label, "threat": spec, "k": k, "unit": report["k_unit"],
                         "structure": report["threat"]["description"],
                         "clean_acc": report["clean_acc"], "robust_acc": report["robust_acc"]})
    return rows


def _finished_report(output_dir):
    path = os.path.join(output_dir, "report.json")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def iteration_cost(specs):
    """(b): seconds of one sPGD iteration per threat, and each over the pixel iteration."""
    tf.keras.utils.set_random_seed(0)
    shape = (FLAGS.image_size, FLAGS.image_size, 3)
    net = build_model(FLAGS.model, shape, 10, width=FLAGS.width)
    model_fn = lambda images: net(images, training=False)  # noqa: E731
    images = tf.random.uniform([FLAGS.batch, *shape], seed=1)
    labels = tf.argmax(model_fn(images), axis=-1, output_type=tf.int32)
    clean_logits = model_fn(images)

    def attack(threat, k, steps):
        @tf.function
        def run():
            result = sparse_pgd(model_fn, images, labels, eps=k, iterations=steps, loss="kl",
                                clean_logits=clean_logits, threat=threat)
            return tf.reduce_sum(result.adversarial)
        return run

    calls = {}
    for spec in ("pixels:20",) + tuple(s for s in specs if s != "pixels:20"):
        label, threat, k = parse_threat(spec)
        structure = threat.structure(shape)
        for steps in (1, FLAGS.steps):
            calls[(label, steps)] = attack(structure, k, steps)
    for call in calls.values():
        call()  # trace and warm up
    named = {f"{label}@{steps}": call for (label, steps), call in calls.items()}
    medians = interleaved_medians(named, FLAGS.repeats)
    per_iteration = {label: (medians[f"{label}@{FLAGS.steps}"] - medians[f"{label}@1"])
                     / (FLAGS.steps - 1) for label, steps in calls if steps == 1}
    pixel = per_iteration["pixels_20"]
    return [{"threat": label, "iteration_seconds": seconds, "over_pixels": seconds / pixel}
            for label, seconds in per_iteration.items()]


def main(argv):
    warn_old_flags({"iters": "iterations", "rs_queries": "queries"})
    try:
        _run(argv)
    except (DataError, UsageError) as error:  # a model or data folder that cannot be read
        fail(str(error))


def _run(argv):
    del argv
    if FLAGS.steps < 2:
        raise UsageError("--steps must be at least 2 (the iteration is T(steps) - T(1))")
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    result = _earlier_result()
    result["device"] = [d.name for d in tf.config.list_logical_devices()]
    if "accuracy" in FLAGS.parts:
        result["settings"]["accuracy"] = _settings("models", "threats", "n_examples",
                                                   "iterations", "queries", "batch")
        result["robust_accuracy"] = robust_accuracy_table(FLAGS.models, FLAGS.threats)
    if "cost" in FLAGS.parts:
        result["settings"]["cost"] = _settings("threats", "batch", "model", "width",
                                               "image_size", "steps", "repeats")
        result["iteration_cost"] = iteration_cost(FLAGS.threats)
    text = _markdown(result)
    print(text)
    write_json(os.path.join(FLAGS.output_dir, "threat_table.json"), result)
    with atomic_path(os.path.join(FLAGS.output_dir, "threat_table.md")) as temporary:
        with open(temporary, "w") as handle:
            handle.write(text + "\n")


def _earlier_result():
    path = os.path.join(FLAGS.output_dir, "threat_table.json")
    result = {"settings": {}, "robust_accuracy": [], "iteration_cost": []}
    if os.path.exists(path):
        with open(path) as handle:
            earlier = json.load(handle)
        if "accuracy" in earlier.get("settings", {}) or "cost" in earlier.get("settings", {}):
            result.update(earlier)
    return result


def _settings(*names):
    return {name: FLAGS[name].value for name in names}


def _markdown(result):
    tables = []
    if result["robust_accuracy"]:
        tables.append(markdown_table(
            ["model", "threat", "k", "clean %", "robust %"],
            [[r["model"], r["structure"], f"{r['k']} {r['unit']}", f"{r['clean_acc']:.1f}",
              f"{r['robust_acc']:.1f}"] for r in result["robust_accuracy"]]))
    if result["iteration_cost"]:
        tables.append(markdown_table(
            ["threat", "sPGD iteration (ms)", "over pixels"],
            [[r["threat"], f"{1000 * r['iteration_seconds']:.2f}", f"{r['over_pixels']:.2f}"]
             for r in result["iteration_cost"]]))
    return "\n\n".join(tables)


if __name__ == "__main__":
    run_main(main)
