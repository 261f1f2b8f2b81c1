"""Forward floating-point operations per image of each model, counted from its graph.

    python -m benchmarks.model_flops --models=resnet34,preact_resnet34 --image_size=224

A count, not a timing, so it means the same on any machine, loaded or not: TensorFlow's profiler
adds up the floating-point operations of the traced forward pass (convolutions and matrix
products dominate; one multiply-add counts as two). Prints a table with each model's FLOPs and
parameters and its ratio to the first model; ``--output`` also writes them as JSON.
"""

import json

import numpy as np
import tensorflow as tf
from absl import flags

from tf_fastls0.models import MODELS, build_model
from tf_fastls0.utils.cli import UsageError, fail, refuse_positional_arguments, run_main

flags.DEFINE_list("models", ["resnet34", "preact_resnet34"], "Models to count (from "
                  f"{', '.join(MODELS)}); ratios are to the first.")
flags.DEFINE_integer("image_size", 224, "Square input size.", lower_bound=8)
flags.DEFINE_integer("num_classes", 100, "Number of classes.", lower_bound=2)
flags.DEFINE_float("width", 1.0, "Channel-width multiplier of every model.", lower_bound=0.01)
flags.DEFINE_string("output", None, "Also write the figures as JSON here.")

FLAGS = flags.FLAGS


def forward_flops(model, image_size):
    """Floating-point operations of one forward pass on one image."""
    forward = tf.function(lambda images: model(images, training=False))
    graph = forward.get_concrete_function(
        tf.TensorSpec([1, image_size, image_size, model.input_shape[-1]], tf.float32)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return int(tf.compat.v1.profiler.profile(graph, options=options).total_float_ops)


def count(names, image_size, num_classes, width):
    rows = []
    for name in names:
        model = build_model(name, (image_size, image_size, 3), num_classes, width)
        rows.append({"model": name, "flops": forward_flops(model, image_size),
                     "parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights))})
    for row in rows:
        row["ratio_to_first"] = row["flops"] / rows[0]["flops"]
    return rows


def main(argv):
    refuse_positional_arguments(argv)
    unknown = [name for name in FLAGS.models if name not in MODELS]
    if unknown:
        fail(str(UsageError(f"--models: unknown {', '.join(unknown)}; choose from "
                            f"{', '.join(MODELS)}")))
    rows = count(FLAGS.models, FLAGS.image_size, FLAGS.num_classes, FLAGS.width)
    print(f"| model ({FLAGS.image_size}x{FLAGS.image_size}, x{FLAGS.width}) | GFLOPs / image "
          f"| parameters | x {rows[0]['model']} |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['model']} | {row['flops'] / 1e9:.2f} | {row['parameters']:,} | "
              f"{row['ratio_to_first']:.2f} |")
    if FLAGS.output:
        with open(FLAGS.output, "w") as handle:
            json.dump({"image_size": FLAGS.image_size, "width": FLAGS.width, "rows": rows},
                      handle, indent=1)


if __name__ == "__main__":
    run_main(main)
