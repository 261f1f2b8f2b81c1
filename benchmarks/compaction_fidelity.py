"""Whether compaction changes an attack's result on a real network, and why it can, in the last
bit.

    python -m benchmarks.compaction_fidelity --data_dir=$CIFAR10_JPEG_DIR --width=0.5

A network is trained normally (cross-entropy, ``--epochs`` over ``--train_images`` of
``--data_dir``, or of the built-in shapes10 images when no folder is given) or loaded
(``--model_path``: any model path ``tf_fastls0.evaluate`` takes). Then two measurements on
``--images`` test images:

- **Row bits**: for each batch size n of ``--sizes``, the share of the first n images whose logits
  and input gradient (of the cross-entropy) have the same bits when the network runs on those n
  as when it runs on all of them. Where it is below 1, a compacted attack (whose working batch
  shrinks to such sizes, ``attacks/compaction.py``) cannot give every row the full batch's bits.
- **Attack outcome**: sPGD (unprojected and projected) and Sparse-RS at each eps of ``--eps`` on
  the correctly classified images, compacted and not: the images fooled each way, whether they
  are the same images, how many adversarial images differ, and the largest difference in the
  returned images' loss.

Nothing is timed (``attack_cost --figures=e`` times what compaction saves), so a busy machine
gives the same figures. ``--output`` also writes them as JSON.
"""

import json

import numpy as np
import tensorflow as tf
from absl import flags

from benchmarks.batch_invariance import attack_outcomes, network_and_images, row_bits
from tf_fastls0.models import MODELS
from tf_fastls0.utils.cli import refuse_positional_arguments, run_main

flags.DEFINE_string("data_dir", None, "Image folder (train/ and test/ of class folders) to train "
                    "and attack on; default: the built-in shapes10 images.")
flags.DEFINE_string("model_path", None, "Attack this model (a run folder, SavedModel or .keras "
                    "file) instead of training one; needs --data_dir.")
flags.DEFINE_enum("model", "small_cnn", list(MODELS), "Network to train when no --model_path.")
flags.DEFINE_float("width", 0.5, "Channel-width multiplier of the trained network.",
                   lower_bound=0.01)
flags.DEFINE_integer("train_images", 2000, "Training images.", lower_bound=1)
flags.DEFINE_integer("epochs", 12, "Training epochs.", lower_bound=1)
flags.DEFINE_integer("images", 250, "Test images attacked (and the full batch of the row-bits "
                     "measurement).", lower_bound=2)
flags.DEFINE_list("sizes", ["192", "128", "96", "64", "48", "32", "24", "16", "12", "8", "6",
                            "4", "3", "2", "1"],
                  "Batch sizes of the row-bits measurement (each at most --images).")
flags.DEFINE_list("eps", ["3", "10"], "l0 budgets (pixels) of the attack-outcome measurement.")
flags.DEFINE_integer("iterations", 100, "sPGD iterations.", lower_bound=1)
flags.DEFINE_integer("queries", 300, "Sparse-RS queries.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of the training and of the attacks.")
flags.DEFINE_string("output", None, "Also write the figures as JSON here.")

flags.register_validator("sizes", lambda v: all(s.isdigit() and int(s) >= 1 for s in v),
                         "--sizes: positive integers")
flags.register_validator("eps", lambda v: all(s.isdigit() and int(s) >= 1 for s in v),
                         "--eps: positive integers")
flags.register_multi_flags_validator(
    ["model_path", "data_dir"], lambda f: f["model_path"] is None or f["data_dir"] is not None,
    "--model_path needs --data_dir (the images to attack it on)")
flags.register_multi_flags_validator(
    ["sizes", "images"], lambda f: all(int(s) <= f["images"] for s in f["sizes"]),
    "--sizes: every size at most --images")

FLAGS = flags.FLAGS


def print_tables(figures):
    print(f"{figures['network']}; {figures['correct']} of {figures['images']} test images "
          f"correct, {figures['device']}")
    print("\n| batch size | rows with the full batch's bits |\n|---|---|")
    for n, share in figures["row_bits"].items():
        print(f"| {n} | {share:.0%} |")
    print("\n| attack, k | fooled (full / compacted) | same images | adversarial images differing "
          "| largest loss difference |\n|---|---|---|---|---|")
    for name, row in figures["attacks"].items():
        print(f"| {name} | {row['fooled_full']} / {row['fooled_compacted']} | "
              f"{'yes' if row['same_fooled_images'] else 'NO'} | "
              f"{row['differing_adversarial_images']} | {row['max_loss_difference']:.2g} |")


def main(argv):
    refuse_positional_arguments(argv)
    model_fn, images, labels, network = network_and_images(
        FLAGS.data_dir, FLAGS.model_path, FLAGS.model, FLAGS.width, FLAGS.train_images,
        FLAGS.epochs, FLAGS.images, FLAGS.seed)
    images, labels = tf.constant(images), tf.constant(labels)
    correct = np.argmax(model_fn(images).numpy(), axis=-1) == labels.numpy()
    figures = {
        "network": network, "images": int(len(labels)), "correct": int(correct.sum()),
        "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU",
        "row_bits": row_bits(model_fn, images, labels, [int(s) for s in FLAGS.sizes]),
        "attacks": attack_outcomes(model_fn, tf.boolean_mask(images, correct),
                                   tf.boolean_mask(labels, correct),
                                   [int(e) for e in FLAGS.eps], FLAGS.iterations, FLAGS.queries,
                                   FLAGS.seed),
    }
    print_tables(figures)
    if FLAGS.output:
        with open(FLAGS.output, "w") as handle:
            json.dump(figures, handle, indent=1)


if __name__ == "__main__":
    run_main(main)
