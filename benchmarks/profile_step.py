"""Where the time of our standard training step goes, by ablation (issue 27, part 1).

    python -m benchmarks.profile_step                          # PreAct ResNet-18, batch 128
    python -m benchmarks.profile_step --width=0.25 --batch_size=32 --rounds=3
    python -m benchmarks.profile_step --trace_dir=/tmp/step_trace   # + a TensorBoard trace

Times the standard step (``SparseAdversarialModel.train_step`` in a ``tf.function``, as
``benchmarks.step_cost`` does) beside copies of it with one part taken out, all interleaved
(``timing.py``), and prints s/step, the ratio to the full step and the share of the full step
the part costs (1 - variant / full; negative: the variant is slower):

| variant | what differs from the full step |
|---|---|
| ``full`` | nothing: the step ``step_cost`` times |
| ``no_batchnorm`` | every BatchNormalization layer replaced by an identity |
| ``relu`` | the blocks' softplus replaced by ReLU |
| ``no_l2`` | weight decay 0 (no L2 term added per variable in ``SGDWithL2``) |
| ``no_gradient_norm`` | no exact global gradient norm (``training/gradients.py``) |
| ``no_metrics`` | no metric tracker updates (epoch means, accuracies) |
| ``bare`` | all of the trainer removed: CE, tape, ``optimizer.apply`` on the same network |
| ``keras_fit`` | the full step driven by Keras ``fit`` (no callbacks, ``verbose=0``) |
| ``keras_fit_callbacks`` | ``fit`` with the run's per-step ``TerminateOnNaN``, ``StepSummaries`` |
| ``keras_fit_grouped`` | the same, ``--fit_steps_per_execution`` steps per call |

The two ``fit`` rows show the host's share: Keras' own loop (iterator, logs) and the callbacks
that make it wait for every step's logs; each of their timed calls is one ``fit`` of
``--fit_steps`` steps, so the per-call cost of starting ``fit`` is spread over those steps (a
training epoch spreads it over all of its steps). ``keras_fit_grouped`` shows what
``--steps_per_execution`` takes back: the host dispatches and waits once per group. A network
variant is a copy of the network (``keras.models.clone_model``) with fresh weights; the others
patch the trainer while its step is traced. Ablations do not add up: parts overlap (no BatchNorm
also removes its gradient and its variables' L2 terms). ``--trace_dir`` also writes a
``tf.profiler`` trace of a few full steps there (TensorBoard's Profile tab: per-op times) and
prints the traced op time summed by op type (``Conv2DBackpropFilter``, ``_MklFusedBatchNormV3``,
...): seconds per step and share of all op time (ops that run side by side each count their own
time, so the shares are of op time, not of the step's wall time). The other flags are
``benchmarks.step_cost``'s (``--model``, ``--width``, ``--batch_size``, ``--image_size``,
``--jit_compile``, ``--mixed_precision``, ``--rounds``, ``--steps_per_round``, ``--output``);
its ``--methods`` is not read here.
"""

import collections
import contextlib
import glob
import os
import tempfile
from unittest import mock

import keras
import tensorflow as tf
from absl import flags, logging

from benchmarks import step_cost
from benchmarks.network_variants import without
from benchmarks.timing import markdown_table, training_step_medians
from tf_fastls0.training import callbacks as callbacks_lib
from tf_fastls0.training import run as run_lib
from tf_fastls0.training import sparse_adversarial_model as trainer_lib
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.utils.atomic import write_json
from tf_fastls0.utils.cli import run_main

VARIANTS = {
    "full": "nothing",
    "no_batchnorm": "BatchNorm -> identity",
    "relu": "softplus -> ReLU",
    "no_l2": "no L2 term",
    "no_gradient_norm": "no global gradient norm",
    "no_metrics": "no metric updates",
    "bare": "no trainer (CE, tape, apply)",
    "keras_fit": "Keras fit, no callbacks",
    "keras_fit_callbacks": "Keras fit + per-step callbacks",
    "keras_fit_grouped": "Keras fit + callbacks, grouped steps",
}
FIT_VARIANTS = ("keras_fit", "keras_fit_callbacks", "keras_fit_grouped")

flags.DEFINE_list("variants", list(VARIANTS), f"Variants to time, from {', '.join(VARIANTS)}.")
flags.DEFINE_integer("fit_steps", 10, "Steps per timed call of the fit variants.", lower_bound=1)
flags.DEFINE_integer("fit_steps_per_execution", 5, "Steps per execution of keras_fit_grouped "
                     "(a divisor of --fit_steps).", lower_bound=1)
flags.DEFINE_string("trace_dir", None, "Also write a tf.profiler trace of --trace_steps full "
                    "steps into this folder (for TensorBoard's Profile tab).")
flags.DEFINE_integer("trace_steps", 3, "Full steps traced with --trace_dir.", lower_bound=1)
flags.register_validator("variants", lambda names: all(n in VARIANTS for n in names),
                         f"--variants must name only: {', '.join(VARIANTS)}")
flags.register_multi_flags_validator(
    ["fit_steps", "fit_steps_per_execution"],
    lambda values: values["fit_steps"] % values["fit_steps_per_execution"] == 0,
    "--fit_steps_per_execution must divide --fit_steps (fit would run past them)")

FLAGS = flags.FLAGS


def build_variant(variant, splits):
    """A warmed-up zero-argument call of one standard step of ``variant`` (one fit of
    ``--fit_steps`` steps for the fit variants)."""
    config = TrainConfig(model=FLAGS.model, width=FLAGS.width, batch_size=FLAGS.batch_size,
                         epochs=10, method="standard", jit_compile=FLAGS.jit_compile,
                         mixed_precision=FLAGS.mixed_precision,
                         steps_per_execution=(FLAGS.fit_steps_per_execution
                                              if variant == "keras_fit_grouped" else 1),
                         **({"weight_decay": 0.0} if variant == "no_l2" else {}))
    with _patched(variant):
        trainer, optimizer = run_lib.build_trainer(config, splits)
        batch = step_cost.first_batch(splits, config.batch_size)
        if variant == "no_metrics":
            for tracker in trainer.metrics:
                tracker.update_state = lambda *args, **kwargs: None
        if variant in FIT_VARIANTS:
            return fit_call(trainer, batch, FLAGS.fit_steps,
                            variant != "keras_fit" and config.log_every_steps)
        train_step = _bare_step(trainer, optimizer) if variant == "bare" else trainer.train_step
        last_weight = trainer.network.trainable_variables[-1]

        def step_and_weight(batch):
            logs = train_step(batch)
            return logs, tf.reduce_sum(last_weight)  # read after the update: waits for it

        step = tf.function(step_and_weight, jit_compile=config.jit_compile or None)

        def run():
            float(step(batch)[1])

        run()  # trace (with the patches in place) and warm up
    return run


def _bare_step(trainer, optimizer):
    network = trainer.network

    def step(batch):
        images, labels, _ = batch
        with tf.GradientTape() as tape:
            logits = network(images, training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                labels, logits, from_logits=True))
        optimizer.apply(tape.gradient(loss, network.trainable_variables),
                        network.trainable_variables)
        return {"loss": loss}

    return step


def fit_call(trainer, batch, steps, log_every_steps=None):
    """A warmed-up zero-argument call of one ``fit`` of ``steps`` steps over ``batch``; with
    ``log_every_steps``, with the run's per-step callbacks (summaries to a temporary folder)."""
    data = tf.data.Dataset.from_tensors(batch).repeat()
    callbacks = []
    if log_every_steps:
        logs_dir = tempfile.mkdtemp(prefix="profile_step_")
        callbacks = [keras.callbacks.TerminateOnNaN(),
                     callbacks_lib.StepSummaries(logs_dir, log_every_steps)]

    def run():
        trainer.fit(data, epochs=1, steps_per_epoch=steps, verbose=0,
                    callbacks=callbacks)

    run()  # trace and warm up
    return run


@contextlib.contextmanager
def _patched(variant):
    """The patches ``variant`` needs while its trainer is built and its step traced."""
    with contextlib.ExitStack() as stack:
        if variant in ("no_batchnorm", "relu"):
            build = run_lib.build_network
            stack.enter_context(mock.patch.object(
                run_lib, "build_network",
                lambda *args, **kwargs: without(build(*args, **kwargs), variant)))
        if variant == "no_gradient_norm":
            stack.enter_context(mock.patch.object(
                trainer_lib, "global_gradients",
                lambda gradients, *_: (gradients, tf.constant(0.0))))
        yield


def write_trace(splits, trace_dir):
    """A tf.profiler trace of ``--trace_steps`` full steps in ``trace_dir``."""
    run = build_variant("full", splits)
    os.makedirs(trace_dir, exist_ok=True)
    tf.profiler.experimental.start(trace_dir)
    try:
        for _ in range(FLAGS.trace_steps):
            run()
    finally:
        tf.profiler.experimental.stop()


def op_type_seconds(trace_dir, steps):
    """op type -> seconds per step of the ops of that type in the newest trace under
    ``trace_dir`` (``steps`` steps traced): the events of TensorFlow's executor threads
    (``tf_Compute``) named ``op_name:OpType``."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    paths = glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True)
    if not paths:
        return {}
    space = xplane_pb2.XSpace()
    with open(max(paths, key=os.path.getmtime), "rb") as handle:
        space.ParseFromString(handle.read())
    picoseconds = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                metadata = plane.event_metadata[event.metadata_id]
                if ":" in metadata.name and metadata.display_name:
                    picoseconds[metadata.display_name] += event.duration_ps
    return {name: value * 1e-12 / steps for name, value in picoseconds.most_common()}


def op_type_table(seconds, top=15):
    total = sum(seconds.values())
    rows = [[name, f"{value:.4f}", _percent(value / total)]
            for name, value in list(seconds.items())[:top]]
    rest = total - sum(list(seconds.values())[:top])
    if rest > 0:
        rows.append([f"({len(seconds) - top} other types)", f"{rest:.4f}", _percent(rest / total)])
    rows.append(["all ops", f"{total:.4f}", "100 %"])
    return markdown_table(["op type", "s/step", "share of op time"], rows)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    splits = step_cost.synthetic_splits(FLAGS.batch_size, FLAGS.image_size, FLAGS.num_classes)
    calls = {}
    for variant in FLAGS.variants:
        print(f"building and warming up {variant} ...", flush=True)
        calls[variant] = build_variant(variant, splits)
    medians = training_step_medians(calls, FLAGS.rounds, FLAGS.steps_per_round)
    by_type = {}
    seconds = {name: value / (FLAGS.fit_steps if name in FIT_VARIANTS else 1)
               for name, value in medians.items()}
    rows = [{"variant": name, "removed": VARIANTS[name], "seconds_per_step": value,
             **({"ratio_to_full": value / seconds["full"],
                 "share_of_full": 1.0 - value / seconds["full"]} if "full" in seconds else {})}
            for name, value in seconds.items()]
    print(markdown_table(["variant", "what differs", "s/step", "x full", "share of full"],
                         [[r["variant"], r["removed"], f"{r['seconds_per_step']:.4f}",
                           step_cost._fmt(r.get("ratio_to_full")),
                           _percent(r.get("share_of_full"))] for r in rows]))
    if FLAGS.trace_dir:
        print(f"tracing {FLAGS.trace_steps} full steps into {FLAGS.trace_dir} ...", flush=True)
        write_trace(splits, FLAGS.trace_dir)
        by_type = op_type_seconds(FLAGS.trace_dir, FLAGS.trace_steps)
        print(op_type_table(by_type) if by_type else "(no trace file found)")
    if FLAGS.output:
        os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
        write_json(FLAGS.output, {
            "rows": rows, "device": step_cost.device_name(),
            **({"op_type_seconds_per_step": by_type} if FLAGS.trace_dir else {}),
            "tensorflow_version": tf.__version__,
            "settings": {name: FLAGS[name].value for name in (
                "model", "width", "batch_size", "image_size", "rounds", "steps_per_round",
                "fit_steps", "fit_steps_per_execution", "jit_compile", "mixed_precision")}})


def _percent(value):
    return "" if value is None else f"{100 * value:.0f} %"


if __name__ == "__main__":
    run_main(main)
