"""Small models beside PyTorch (issue 40, part 5): the training step over a sweep of network sizes,
and whole epochs through ``SparseAdversarialModel.fit`` against a plain PyTorch epoch loop.

    python -m benchmarks.small_model --output=benchmarks/results/small_model/sweep.json
    python -m benchmarks.small_model --networks=small_cnn:0.25 --epoch_images=64 \\
        --batch_size=16 --rounds=1 --steps_per_round=1 --epoch_rounds=1        # quick

Steps: for each ``--networks`` entry (``model:width``, from the small CNN up to PreAct ResNet-18),
ours (``step_cost.compiled_step``) and PyTorch's (``torch_step_cost.torch_steps``) step of every
``--methods`` entry on the same synthetic batch, interleaved in the same rounds
(``timing.py``); each network is built and timed on its own, so building a later network does
not make an earlier step trace again inside a timed round. The table gives the trainable
parameters, both s/step and PyTorch's over ours (> 1: ours faster).

Epochs: ``--epoch_images`` synthetic images (CIFAR-size by default) trained for one epoch of
``--epoch_method`` at ``--batch_size`` by

- ``ours_fit``: ``SparseAdversarialModel.fit(x, y, batch_size, epochs=1, verbose=0)``, one call
  per epoch as a user training epoch by epoch does (numpy arrays; the same SGD with coupled L2 as
  the command, ``training/optimizer.py``);
- ``ours_loop``: the same model's ``train_step`` in a ``tf.function`` over a shuffled
  ``tf.data`` batching of the same arrays, no ``fit``: what ``fit`` adds around the step is
  ``ours_fit - ours_loop``;
- ``torch``: ``TorchStep`` over a ``torch.randperm`` order of the same images (NCHW tensors in
  memory), ``loss.item()`` every step as a PyTorch loop that logs its loss does;

interleaved over ``--epoch_rounds`` rounds (medians), after one first epoch of each whose time
is reported apart (``first_epoch_seconds``: tracing, kernel choice). The flags are those of
``benchmarks.torch_step_cost`` (``--methods``, ``--batch_size``, ``--train_eps``, ``--rounds``,
``--steps_per_round``, ``--torch_threads``, ``--tf_threads``, ``--image_size`` ...); its
``--model``/``--width`` are replaced by ``--networks``. Float32 on both sides
(``--mixed_precision`` must stay off); the JSON also records what ``--mixed_precision=auto``
would pick on this machine, and the CPU's model name and bfloat16 flags.
"""

import os
import time

import keras
import numpy as np
import tensorflow as tf
from absl import flags, logging

from benchmarks import step_cost, torch_step_cost
from benchmarks.timing import interleaved_medians, markdown_table, training_step_medians
from tf_fastls0.models import MODELS, precision
from tf_fastls0.training.optimizer import SGDWithL2
from tf_fastls0.training.sparse_adversarial_model import SparseAdversarialModel
from tf_fastls0.utils.atomic import write_json
from tf_fastls0.utils.cli import UsageError, fail, run_main

SWEEP = ("small_cnn:0.5", "small_cnn:1", "small_cnn:2", "small_cnn:4", "preact_resnet18:0.125",
         "preact_resnet18:0.25", "preact_resnet18:0.5", "preact_resnet18:1")
METHODS = ("standard", "strades_t_1step", "fast_ls_l0_t")

flags.DEFINE_list("networks", list(SWEEP), "model:width entries timed step by step, smallest "
                  "first; the models are those with a PyTorch twin (torch_step_cost).")
flags.DEFINE_list("epoch_networks", ["small_cnn:1"], "model:width entries timed epoch by epoch "
                  "(empty: no epochs).")
flags.DEFINE_string("epoch_method", "strades_t_1step", "The method of the epoch timing (one "
                    "of torch_step_cost's methods).")
flags.DEFINE_integer("epoch_images", 5000, "Training images per epoch.", lower_bound=1)
flags.DEFINE_integer("epoch_rounds", 3, "Interleaved epochs of each candidate (median).",
                     lower_bound=1)
flags.FLAGS.set_default("methods", list(METHODS))

FLAGS = flags.FLAGS


def parse_network(entry):
    """``"small_cnn:0.5"`` -> ``("small_cnn", 0.5)``; a bare name has width 1."""
    name, _, width = entry.partition(":")
    known = torch_step_cost.TORCH_MODELS
    if name not in known:
        raise UsageError(f"--networks: {name!r} has no PyTorch twin; known: {', '.join(known)}")
    try:
        return name, float(width or 1.0)
    except ValueError:
        raise UsageError(f"--networks: width {width!r} of {name} is not a number") from None


def parameter_count(network, width, num_classes):
    return sum(p.numel() for p in torch_step_cost.torch_networks()[network](num_classes, width)
               .parameters())


def step_rows(torch, network, width):
    """The interleaved step timing of one network: ``torch_step_cost.result_rows`` with the
    network, its width and its parameter count."""
    splits = step_cost.synthetic_splits(FLAGS.batch_size, FLAGS.image_size, FLAGS.num_classes)
    calls, _ = torch_step_cost.torch_steps(torch, splits, FLAGS.methods, width, FLAGS.batch_size,
                                           FLAGS.train_eps, FLAGS.torch_threads, model=network)
    candidates = {f"torch:{name}": call for name, call in calls.items()}
    for name in FLAGS.methods:
        candidates[f"ours:{name}"] = step_cost.compiled_step(
            name, splits, model=network, width=width, batch_size=FLAGS.batch_size,
            train_eps=FLAGS.train_eps, jit_compile=FLAGS.jit_compile,
            mixed_precision=FLAGS.mixed_precision)
    medians = training_step_medians(candidates, FLAGS.rounds, FLAGS.steps_per_round)
    parameters = parameter_count(network, width, FLAGS.num_classes)
    return [{"network": network, "width": width, "parameters": parameters, **row}
            for row in torch_step_cost.result_rows(medians, FLAGS.methods, FLAGS.batch_size)]


def synthetic_epoch(images, image_size, num_classes, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (images, image_size, image_size, 3), dtype=np.uint8)
    return x.astype(np.float32) / 255.0, rng.integers(0, num_classes, images).astype(np.int32)


def our_epochs(network, width, method, x, y, batch_size, k):
    """``(fit, loop)``: zero-argument calls that train ``SparseAdversarialModel`` one epoch on
    ``(x, y)``, through ``fit`` and through its ``train_step`` alone (the module docstring)."""
    keras.utils.set_random_seed(0)
    classifier = MODELS[network](x.shape[1:], int(y.max()) + 1, width=width)
    model = SparseAdversarialModel(classifier, train_eps=k, **step_cost.METHODS[method])
    model.compile(optimizer=SGDWithL2())

    def fit():
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)

    indices = np.arange(len(x), dtype=np.int64)
    batches = tf.data.Dataset.from_tensor_slices((x, y, indices)).shuffle(len(x)).batch(
        batch_size).prefetch(tf.data.AUTOTUNE)
    step = tf.function(model.train_step)

    def loop():
        for batch in batches:
            logs = step(batch)
        float(logs["loss"])  # wait for the last step

    return fit, loop


def torch_epoch(torch, network, width, method, x, y, batch_size, k):
    """A zero-argument call that trains the PyTorch twin one epoch of ``method`` on ``(x, y)``
    in a ``torch.randperm`` order."""
    from benchmarks.torch_reference.steps import TorchStep

    torch.set_num_threads(FLAGS.torch_threads or torch_step_cost.usable_cores())
    torch.manual_seed(0)
    num_classes = int(y.max()) + 1
    model = torch_step_cost.torch_networks()[network](num_classes, width)
    images = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(y).long()
    soft_labels = torch.nn.functional.one_hot(labels, num_classes).float()
    step = TorchStep(method, model, k, soft_labels=soft_labels)

    def epoch():
        order = torch.randperm(len(images))
        for start in range(0, len(images), batch_size):
            chosen = order[start:start + batch_size]
            step(images[chosen], labels[chosen], chosen)

    return epoch


def epoch_rows(torch, network, width):
    x, y = synthetic_epoch(FLAGS.epoch_images, FLAGS.image_size, FLAGS.num_classes)
    method, batch_size, k = FLAGS.epoch_method, FLAGS.batch_size, FLAGS.train_eps
    fit, loop = our_epochs(network, width, method, x, y, batch_size, k)
    candidates = {"torch": torch_epoch(torch, network, width, method, x, y, batch_size, k),
                  "ours_fit": fit, "ours_loop": loop}
    first = {}
    for name, call in candidates.items():
        print(f"first epoch of {name} on {network}:{width} ...", flush=True)
        start = time.perf_counter()
        call()
        first[name] = time.perf_counter() - start
    medians = interleaved_medians(candidates, FLAGS.epoch_rounds, on_round=lambda r: print(
        f"epoch round {r + 1}/{FLAGS.epoch_rounds} done", flush=True))
    steps = -(-len(x) // batch_size)
    return [{"network": network, "width": width, "method": method, "images": len(x),
             "steps_per_epoch": steps, **{f"{name}_seconds_per_epoch": medians[name]
                                          for name in candidates},
             **{f"{name}_first_epoch_seconds": first[name] for name in candidates},
             "torch_over_ours_fit": medians["torch"] / medians["ours_fit"],
             "fit_overhead_seconds_per_step": (medians["ours_fit"] - medians["ours_loop"]) / steps}]


def cpu_description(cpuinfo=precision.CPUINFO):
    """The CPU's model name and which of the bfloat16 flags it has (``lscpu``'s, from
    ``cpuinfo``)."""
    name = "unknown CPU"
    try:
        with open(cpuinfo) as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    name = value.strip()
                    break
    except OSError:
        pass
    found = precision.cpu_flags(cpuinfo) or set()
    have = [flag for flag in precision.BFLOAT16_CPU_FLAGS if flag in found]
    return f"{name}, {os.cpu_count()} cores, bfloat16 flags: {', '.join(have) or 'none'}"


def step_table(rows):
    return markdown_table(
        ["network", "width", "parameters", "method", "ours s/step", "torch s/step",
         "torch / ours (> 1: ours faster)"],
        [[r["network"], f"{r['width']:g}", f"{r['parameters']:,}", r["method"],
          f"{r['ours_seconds_per_step']:.4f}", f"{r['torch_seconds_per_step']:.4f}",
          f"{r['torch_over_ours']:.2f}"] for r in rows])


def epoch_table(rows):
    return markdown_table(
        ["network", "method", "images", "ours fit s/epoch", "ours step loop s/epoch",
         "torch s/epoch", "torch / ours fit", "fit's overhead s/step",
         "first epoch: ours fit, torch (s)"],
        [[f"{r['network']}:{r['width']:g}", r["method"], r["images"],
          f"{r['ours_fit_seconds_per_epoch']:.2f}", f"{r['ours_loop_seconds_per_epoch']:.2f}",
          f"{r['torch_seconds_per_epoch']:.2f}", f"{r['torch_over_ours_fit']:.2f}",
          f"{r['fit_overhead_seconds_per_step']:.4f}",
          f"{r['ours_fit_first_epoch_seconds']:.1f}, {r['torch_first_epoch_seconds']:.1f}"]
         for r in rows])


def check_flags():
    torch_step_cost.check_flags()
    if FLAGS.epoch_method not in torch_step_cost.TORCH_METHODS:
        raise UsageError(f"--epoch_method={FLAGS.epoch_method}: no PyTorch step; known: "
                         f"{', '.join(torch_step_cost.TORCH_METHODS)}")
    return ([parse_network(entry) for entry in FLAGS.networks],
            [parse_network(entry) for entry in FLAGS.epoch_networks])


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    try:
        networks, epoch_networks = check_flags()
        torch = torch_step_cost.import_torch()
    except UsageError as error:
        fail(str(error))
    if FLAGS.tf_threads:  # before TensorFlow runs anything
        tf.config.threading.set_intra_op_parallelism_threads(FLAGS.tf_threads)
        tf.config.threading.set_inter_op_parallelism_threads(FLAGS.tf_threads)
    steps, epochs = [], []
    for network, width in networks:
        print(f"timing the steps of {network}:{width:g} ...", flush=True)
        steps += step_rows(torch, network, width)
    for network, width in epoch_networks:
        epochs += epoch_rows(torch, network, width)
    cpu = cpu_description()
    print(f"{cpu}; float32 (auto would pick: {precision.auto_precision().precision}); "
          f"torch threads {torch.get_num_threads()}, tf threads {FLAGS.tf_threads or 'default'}")
    if steps:
        print(step_table(steps))
    if epochs:
        print(epoch_table(epochs))
    if FLAGS.output:
        os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
        write_json(FLAGS.output, {
            "steps": steps, "epochs": epochs,
            "settings": {name: FLAGS[name].value for name in (
                "networks", "epoch_networks", "epoch_method", "epoch_images", "epoch_rounds",
                "methods", "batch_size", "image_size", "num_classes", "train_eps", "rounds",
                "steps_per_round", "jit_compile", "mixed_precision", "torch_threads",
                "tf_threads")},
            "cpu": cpu, "device": step_cost.device_name(),
            "auto_precision": precision.auto_precision().reason,
            "torch_threads_used": torch.get_num_threads(), "torch_version": torch.__version__,
            "tensorflow_version": tf.__version__})


if __name__ == "__main__":
    run_main(main)
