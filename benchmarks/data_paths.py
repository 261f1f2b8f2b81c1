"""Peak memory and training speed of the streaming data path against the in-memory one.

    python -m benchmarks.data_paths                 # CIFAR-10 folder, PreAct ResNet-18, 5k/50k
    python -m benchmarks.data_paths --sizes=64,128 --width=0.125 --batch_size=32 \\
        --epochs=1 --output_dir=/tmp/data_paths                       # a quick check, CPU
    python -m benchmarks.data_paths --data_dir=/path/to/imagenet100 --pipelines=stream \\
        --train_flags=--flagfile=configs/imagenet100.flags --model=resnet34 --batch_size=48 \\
        --sizes=5000                                                  # the 224 path

Trains once per (pipeline, size) with ``python -m tf_fastls0.train`` (standard training unless
``--train_flags`` say otherwise), each in its own process, one after another, and reports that
process's peak resident memory (``wait4``'s ``ru_maxrss``) and the images/s of its last epoch
(the first one also traces the step). Targets (issue 12): streaming's peak memory at 50,000
images within 15 % of its peak at 5,000; streaming's images/s at least 0.9x in-memory's.
"""

import json
import os
import subprocess
import sys
import tempfile

from absl import flags

from benchmarks.timing import markdown_table
from tf_fastls0.utils.atomic import write_json
from tf_fastls0.utils.cli import run_main

flags.DEFINE_string("data_dir", os.environ.get("CIFAR10_JPEG_DIR", "data/cifar10-jpeg"),
                    "Image folder to train on (default: $CIFAR10_JPEG_DIR).")
flags.DEFINE_list("sizes", ["5000", "50000"], "Training images (--max_train_examples) per run.")
flags.DEFINE_list("pipelines", ["stream", "memory"], "Data paths to compare (--pipeline).")
flags.DEFINE_string("model", "preact_resnet18", "Model (--model).")
flags.DEFINE_float("width", 1.0, "Width multiplier (--width).")
flags.DEFINE_integer("batch_size", 128, "Batch size.", lower_bound=1)
flags.DEFINE_integer("epochs", 2, "Epochs per run; images/s is the last epoch's.", lower_bound=1)
flags.DEFINE_list("train_flags", [], "More trainer flags (e.g. a --flagfile), before the ones "
                  "above, which win.")
flags.DEFINE_string("output_dir", None, "Run folders and results.json go here (default: a "
                    "temporary folder, removed at the end).")
flags.register_validator("pipelines", lambda names: set(names) <= {"stream", "memory", "auto"},
                         "--pipelines: stream, memory or auto")

FLAGS = flags.FLAGS


def main(argv):
    del argv
    output_dir = FLAGS.output_dir or tempfile.mkdtemp(prefix="data_paths_")
    rows = []
    for size in FLAGS.sizes:
        for pipeline in FLAGS.pipelines:
            print(f"training {pipeline} on {size} images ...", flush=True)
            peak_mib, rate = measure(pipeline, int(size), os.path.join(
                output_dir, f"{pipeline}_{size}"))
            rows.append({"pipeline": pipeline, "train_images": int(size),
                         "peak_resident_mib": peak_mib, "images_per_second": rate})
    print(markdown_table(["pipeline", "train images", "peak resident MiB", "images/s"],
                         [[r["pipeline"], r["train_images"], f"{r['peak_resident_mib']:.0f}",
                           f"{r['images_per_second']:.1f}"] for r in rows]))
    results = {"rows": rows, "ratios": ratios(rows), "settings": {name: FLAGS[name].value for name
               in ("data_dir", "sizes", "pipelines", "model", "width", "batch_size", "epochs",
                   "train_flags")}}
    for name, value in results["ratios"].items():
        print(f"{name}: {value:.3f}")
    write_json(os.path.join(output_dir, "results.json"), results)
    print(f"results in {os.path.join(output_dir, 'results.json')}")


def measure(pipeline, size, output_dir):
    """(peak resident MiB, images/s) of one training process."""
    command = [sys.executable, "-m", "tf_fastls0.train", *FLAGS.train_flags,
               f"--data_dir={FLAGS.data_dir}",
               f"--max_train_examples={size}", "--max_eval_examples=1000",
               f"--pipeline={pipeline}", f"--model={FLAGS.model}", f"--width={FLAGS.width}",
               f"--batch_size={FLAGS.batch_size}", f"--epochs={FLAGS.epochs}",
               "--val_robust_examples=0", "--final_eval=none", "--verbose=2",
               f"--output_dir={output_dir}", "--overwrite"]
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status):
            log.seek(0)
            raise RuntimeError(f"{' '.join(command)} failed:\n{log.read()[-3000:]}")
    with open(os.path.join(output_dir, "summary.json")) as handle:
        summary = json.load(handle)
    steps = summary["num_train_examples"] // FLAGS.batch_size
    return usage.ru_maxrss / 1024, steps * FLAGS.batch_size / summary["epoch_seconds"][-1]


def ratios(rows):
    """Streaming's peak memory at the largest size over the smallest, and streaming's images/s
    over in-memory's at each size."""
    by = {(r["pipeline"], r["train_images"]): r for r in rows}
    sizes = sorted({r["train_images"] for r in rows})
    found = {}
    if ("stream", sizes[0]) in by and ("stream", sizes[-1]) in by and len(sizes) > 1:
        found[f"stream_peak_memory_{sizes[-1]}_over_{sizes[0]}"] = (
            by["stream", sizes[-1]]["peak_resident_mib"]
            / by["stream", sizes[0]]["peak_resident_mib"])
    for size in sizes:
        if ("stream", size) in by and ("memory", size) in by:
            found[f"stream_over_memory_images_per_second_{size}"] = (
                by["stream", size]["images_per_second"] / by["memory", size]["images_per_second"])
    return found


if __name__ == "__main__":
    run_main(main)
