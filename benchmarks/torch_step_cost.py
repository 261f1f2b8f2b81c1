"""Time per training step of the same methods written plainly in PyTorch, alone or interleaved
with ours (issue 27: our standard step at least as fast as PyTorch's, each 1-step method at least
1.5x faster).

    python -m benchmarks.torch_step_cost --train_eps=120                 # PyTorch alone
    python -m benchmarks.torch_step_cost --compare --train_eps=120       # ours beside PyTorch
    python -m benchmarks.torch_step_cost --compare --width=0.25 --batch_size=32 --rounds=3

The network (``--model``) is PreAct ResNet-18 or the small CNN, written by us in PyTorch to
match ours (``torch_reference/preact_resnet.py``, ``torch_reference/small_cnn.py``); the steps (``torch_reference/steps.py``) are standard
training, 1-step sAT, 1-step sTRADES (T) and Fast-LS-l0 (T), with our algorithm (SPEC §2, §5)
and the reference code's PyTorch idioms: eager mode, NCHW, ``torch.optim.SGD``. The flags are
``benchmarks.step_cost``'s (``--methods``, ``--width``, ``--batch_size``, ``--train_eps``,
``--rounds``, ``--steps_per_round``, ``--output`` ...), and so are the synthetic batch (the same
images; the labels are each network's own predictions, so no attack is won before it starts) and
the interleaved medians (``timing.py``). PyTorch uses as many threads as this process may use
cores (``torch.set_num_threads``; ``--torch_threads`` sets another number), as TensorFlow does
by default (``--tf_threads`` sets TensorFlow's, intra- and inter-op). Their attack spends the
passes ours does (gradients of the attack's variables alone, no backward after its last forward);
``--torch_reference_cost`` spends the authors' reference code's instead (``loss.backward()`` in
the attack, so the weights' gradients too, and the wasted last backward): the issue's first
comparison was against that code.

``--compare`` builds ``step_cost``'s step of every method too and times ours and PyTorch's in the
same rounds, one after the other, so a noisy neighbour slows both alike; it prints ours s/step,
PyTorch's s/step and PyTorch's over ours (> 1: ours is faster). Both frameworks live in one
process; the one not running has no work queued, so its threads sleep. ``--jit_compile`` applies
to ours only (PyTorch stays eager); ``--mixed_precision`` must stay off (the reference is
float32). PyTorch runs on the first GPU when there is one, on the CPU otherwise.

Needs the ``torch`` extra (``pip install -e ".[torch]"``); without it, one line and exit 2.
"""

import os

from absl import flags, logging

from benchmarks import step_cost
from benchmarks.timing import markdown_table, training_step_medians
from tf_fastls0.utils.atomic import write_json
from tf_fastls0.utils.cores import usable_cores
from tf_fastls0.utils.cli import UsageError, fail, run_main

TORCH_METHODS = ("standard", "sat_1step", "strades_t_1step", "fast_ls_l0_t")
TORCH_MODELS = ("preact_resnet18", "small_cnn")  # the networks of torch_networks()

flags.DEFINE_bool("compare", False, "Time our step of every method too (benchmarks.step_cost), "
                  "interleaved with PyTorch's, and print both side by side.")
flags.DEFINE_integer("torch_threads", 0, "PyTorch's threads (torch.set_num_threads); 0: as many "
                     "as this process may use cores, as TensorFlow takes by default.",
                     lower_bound=0)
flags.DEFINE_integer("tf_threads", 0, "TensorFlow's intra- and inter-op threads; 0: its defaults. "
                     "With --torch_threads the same, a comparison of the kernels that a loaded "
                     "machine disturbs least (1 and 1: PyTorch's OpenMP threads wait on each other "
                     "when a neighbour takes a core, TensorFlow's pool does not). With oneDNN, 1 "
                     "aborted on tiny shapes (width 0.0625, 8x8; see tf_fastls0/__init__.py).",
                     lower_bound=0)
flags.DEFINE_bool("torch_reference_cost", False, "PyTorch's attack spends the authors' reference "
                  "code's passes: weight gradients in every attack backward (loss.backward()) and "
                  "a backward after the last forward. Default: the passes ours spends.")
flags.FLAGS.set_default("methods", list(TORCH_METHODS))

FLAGS = flags.FLAGS


def import_torch():
    """The ``torch`` module; a ``UsageError`` naming the extra to install when it is missing."""
    try:
        import torch
    except ImportError as error:
        raise UsageError(f"benchmarks.torch_step_cost needs PyTorch ({error}); install the torch "
                         "extra: pip install -e \".[torch]\"") from None
    return torch


def check_flags():
    unknown = [name for name in FLAGS.methods if name not in TORCH_METHODS]
    if unknown:
        raise UsageError(f"--methods: no PyTorch step for {', '.join(unknown)}; known: "
                         f"{', '.join(TORCH_METHODS)}")
    if FLAGS.model not in TORCH_MODELS:
        raise UsageError(f"--model={FLAGS.model}: the PyTorch reference has only "
                         f"{', '.join(TORCH_MODELS)}")
    if FLAGS.mixed_precision != "off":
        raise UsageError(f"--mixed_precision={FLAGS.mixed_precision}: the PyTorch reference runs "
                         "in float32 only; leave it off")


def torch_networks():
    """Our model name (``TORCH_MODELS``) -> the same network written in PyTorch
    (``torch_reference``); imports torch."""
    from benchmarks.torch_reference.preact_resnet import preact_resnet18
    from benchmarks.torch_reference.small_cnn import small_cnn

    return {"preact_resnet18": preact_resnet18, "small_cnn": small_cnn}


def torch_steps(torch, splits, methods, width, batch_size, k, threads=0, reference_cost=False,
                model="preact_resnet18"):
    """name -> a warmed-up zero-argument call of PyTorch's step of that method (all on one
    ``model``, a name of ``torch_networks``, each step with its own optimizer), and the device
    they run on. ``threads``: PyTorch's threads (0: every core this process may use);
    ``reference_cost``: the attack spends the reference code's passes (``TorchStep``)."""
    from benchmarks.torch_reference.steps import TorchStep

    torch.set_num_threads(threads or usable_cores())
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = torch_networks()[model](splits.num_classes, width).to(device)
    images = torch.from_numpy(splits.train.float_images(slice(0, batch_size))).permute(0, 3, 1, 2)
    images = images.contiguous().to(device)
    with torch.no_grad():
        labels = model.eval()(images).argmax(dim=1)  # its own predictions, as ours
    indices = torch.arange(batch_size, device=device)
    soft_labels = torch.nn.functional.one_hot(
        torch.from_numpy(splits.train.labels).long(), splits.num_classes).float().to(device)
    soft_labels[indices] = torch.nn.functional.one_hot(labels, splits.num_classes).float()
    steps = {}
    for name in methods:
        step = TorchStep(name, model, k, soft_labels=soft_labels, reference_cost=reference_cost)
        call = lambda step=step: step(images, labels, indices)  # noqa: E731
        call(), call()  # warm up (the first calls choose and cache the kernels)
        steps[name] = call
    return steps, str(device)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    try:
        check_flags()
        torch = import_torch()
    except UsageError as error:
        fail(str(error))
    if FLAGS.tf_threads:  # before TensorFlow runs anything
        step_cost.tf.config.threading.set_intra_op_parallelism_threads(FLAGS.tf_threads)
        step_cost.tf.config.threading.set_inter_op_parallelism_threads(FLAGS.tf_threads)
    splits = step_cost.synthetic_splits(FLAGS.batch_size, FLAGS.image_size, FLAGS.num_classes)
    print("building and warming up the PyTorch steps ...", flush=True)
    torch_calls, torch_device = torch_steps(torch, splits, FLAGS.methods, FLAGS.width,
                                            FLAGS.batch_size, FLAGS.train_eps,
                                            FLAGS.torch_threads, FLAGS.torch_reference_cost,
                                            FLAGS.model)
    candidates = {f"torch:{name}": call for name, call in torch_calls.items()}
    if FLAGS.compare:
        for name in FLAGS.methods:
            print(f"building and warming up our {name} ...", flush=True)
            candidates[f"ours:{name}"] = step_cost.compiled_step(name, splits)
    medians = training_step_medians(candidates, FLAGS.rounds, FLAGS.steps_per_round)
    rows = result_rows(medians, FLAGS.methods, FLAGS.batch_size)
    print(table(rows, FLAGS.compare))
    if FLAGS.output:
        os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
        write_json(FLAGS.output, {
            "rows": rows, "compare": FLAGS.compare,
            "settings": {name: FLAGS[name].value for name in (
                "model", "width", "batch_size", "image_size", "num_classes", "train_eps",
                "rounds", "steps_per_round", "jit_compile", "mixed_precision",
                "torch_reference_cost")},
            "device": step_cost.device_name(), "torch_device": torch_device,
            "torch_threads": torch.get_num_threads(), "torch_version": torch.__version__,
            "tf_threads": FLAGS.tf_threads,
            "tensorflow_version": step_cost.tf.__version__})


def result_rows(medians, methods, batch_size):
    """One dict per method: PyTorch's s/step and images/s, its ratio to PyTorch's standard step,
    and, where ours was timed, ours and PyTorch's over ours."""
    rows = []
    for name in methods:
        seconds = medians[f"torch:{name}"]
        row = {"method": name, "torch_seconds_per_step": seconds,
               "torch_images_per_second": batch_size / seconds}
        if "torch:standard" in medians:
            row["torch_ratio_to_standard"] = seconds / medians["torch:standard"]
        if f"ours:{name}" in medians:
            ours = medians[f"ours:{name}"]
            row.update(ours_seconds_per_step=ours, torch_over_ours=seconds / ours)
        rows.append(row)
    return rows


def table(rows, compare):
    if compare:
        return markdown_table(
            ["method", "ours s/step", "torch s/step", "torch / ours (> 1: ours faster)"],
            [[r["method"], f"{r['ours_seconds_per_step']:.4f}",
              f"{r['torch_seconds_per_step']:.4f}", f"{r['torch_over_ours']:.2f}"]
             for r in rows])
    return markdown_table(
        ["method", "torch s/step", "torch images/s", "x torch standard"],
        [[r["method"], f"{r['torch_seconds_per_step']:.4f}",
          f"{r['torch_images_per_second']:.1f}", step_cost._fmt(r.get("torch_ratio_to_standard"))]
         for r in rows])


if __name__ == "__main__":
    run_main(main)
