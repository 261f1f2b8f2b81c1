"""Writes a small ImageNet-shaped image folder, so the 224x224 path runs without a download.

    python testdata/make_imagenet_like.py --output_dir=/tmp/imagenet_like

``<output_dir>/train/<class>/*.jpg`` and ``<output_dir>/test/<class>/*.jpg``: JPEGs of varied
sizes (each side drawn from 256..500 pixels, like ImageNet's), each a tinted noisy background with
a class-coloured ellipse over its centre, so a classifier can learn the classes and a resize or a
crop keeps them recognisable. Deterministic for a given --seed. Generated, never committed.
"""

import os
import sys

import numpy as np
import tensorflow as tf
from absl import app, flags

flags.DEFINE_string("output_dir", None, "Folder to write (created; must not hold a train/ or "
                    "test/ folder yet).")
flags.DEFINE_integer("classes", 10, "Number of classes.", lower_bound=2)
flags.DEFINE_integer("train_per_class", 30, "Training images per class.", lower_bound=1)
flags.DEFINE_integer("test_per_class", 10, "Test images per class.", lower_bound=1)
flags.DEFINE_integer("min_side", 256, "Smallest image side in pixels.", lower_bound=8)
flags.DEFINE_integer("max_side", 500, "Largest image side in pixels.", lower_bound=8)
flags.DEFINE_integer("seed", 0, "Seed of every draw.", lower_bound=0)
flags.mark_flag_as_required("output_dir")
flags.register_multi_flags_validator(["min_side", "max_side"],
                                     lambda v: v["min_side"] <= v["max_side"],
                                     "--min_side must not exceed --max_side")

FLAGS = flags.FLAGS


def class_colour(label, classes):
    """A distinct, saturated colour per class (hues evenly around the wheel)."""
    hue = tf.constant([[[label / classes, 0.9, 0.9]]], tf.float32)
    return tf.image.hsv_to_rgb(hue).numpy()[0, 0]


def make_image(rng, label, classes, min_side, max_side):
    height, width = rng.integers(min_side, max_side + 1, size=2)
    image = rng.uniform(0.2, 0.6, size=(height, width, 3)) * rng.uniform(0.5, 1.0, size=3)
    rows, cols = np.mgrid[0:height, 0:width]
    # Within 0.1 of the middle and at least 0.2 wide on each axis, the ellipse always covers
    # the image's centre, so a resize or a centre crop keeps the class colour.
    centre = rng.uniform(0.4, 0.6, size=2) * (height, width)
    radii = rng.uniform(0.2, 0.35, size=2) * (height, width)
    inside = ((rows - centre[0]) / radii[0]) ** 2 + ((cols - centre[1]) / radii[1]) ** 2 <= 1.0
    image[inside] = class_colour(label, classes) * rng.uniform(0.8, 1.0)
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8)


def write_folder(output_dir, classes, per_split, min_side, max_side, seed):
    """Writes every split; returns the number of files written."""
    rng = np.random.default_rng(seed)
    written = 0
    for split, count in per_split.items():
        for label in range(classes):
            folder = os.path.join(output_dir, split, f"class_{label:03d}")
            os.makedirs(folder, exist_ok=True)
            for index in range(count):
                image = make_image(rng, label, classes, min_side, max_side)
                data = tf.io.encode_jpeg(image, quality=90).numpy()
                with open(os.path.join(folder, f"{index:05d}.jpg"), "wb") as handle:
                    handle.write(data)
                written += 1
    return written


def main(argv):
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])!r}")
    for split in ("train", "test"):
        if os.path.exists(os.path.join(FLAGS.output_dir, split)):
            sys.exit(f"error: {os.path.join(FLAGS.output_dir, split)} exists already")
    written = write_folder(FLAGS.output_dir, FLAGS.classes,
                           {"train": FLAGS.train_per_class, "test": FLAGS.test_per_class},
                           FLAGS.min_side, FLAGS.max_side, FLAGS.seed)
    print(f"wrote {written} JPEGs under {FLAGS.output_dir}")


if __name__ == "__main__":
    app.run(main)
