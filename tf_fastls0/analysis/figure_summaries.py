"""Copies the analyses' PNG figures (and markdown tables) into TensorBoard, so they sit beside a
run's curves: ``tensorboard --logdir <output_dir>/tensorboard``."""

import tensorflow as tf


def write_summaries(log_dir, figures, texts=None, step=0):
    """Writes each ``{tag: png_path}`` as an image summary and each ``{tag: markdown}`` as text."""
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default(step=step):
        for tag, path in figures.items():
            image = tf.image.decode_png(tf.io.read_file(path))
            tf.summary.image(tag, image[tf.newaxis], step=step)
        for tag, text in (texts or {}).items():
            tf.summary.text(tag, text, step=step)
    writer.flush()
    writer.close()
