"""Scalars read back from event files, and figures written into TensorBoard as images."""

import numpy as np
import tensorflow as tf

from tf_fastls0.analysis import figure_summaries
from tf_fastls0.analysis import plots
from tf_fastls0.analysis import tensorboard_logs


def write_scalars(log_dir, tag, points):
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        for step, value in points:
            tf.summary.scalar(tag, value, step=step)
    writer.close()


def test_curves_merge_files_sort_by_step_and_keep_the_last_write(tmp_path):
    train = tmp_path / "logs" / "train"
    write_scalars(train, "step/gradient_norm", [(20, 2.0), (10, 1.0)])
    write_scalars(train, "step/gradient_norm", [(30, 3.0), (20, 2.5)])  # a resumed run's file
    write_scalars(train, "step/loss", [(10, 9.0)])
    curve = tensorboard_logs.gradient_norm_curve(str(tmp_path))
    np.testing.assert_array_equal(curve.steps, [10, 20, 30])
    np.testing.assert_allclose(curve.values, [1.0, 2.5, 3.0])
    assert len(tensorboard_logs.robust_accuracy_curve(str(tmp_path)).steps) == 0


def test_v1_simple_values_are_read_too(tmp_path):
    summary = tf.compat.v1.Summary(value=[tf.compat.v1.Summary.Value(
        tag="epoch_robust_accuracy", simple_value=0.25)])
    with tf.io.TFRecordWriter(str(tmp_path / "events.out.tfevents.1.host")) as writer:
        writer.write(tf.compat.v1.Event(step=3, summary=summary).SerializeToString())
    curve = tensorboard_logs.read_scalars(str(tmp_path), "epoch_robust_accuracy")
    assert curve.steps.tolist() == [3] and curve.values.tolist() == [0.25]


def test_figures_become_image_summaries_of_the_png_size(tmp_path):
    png = str(tmp_path / "spectrum.png")
    plots.plot_spectra({"a": [3.0, 1.0]}, png)
    height, width = tf.image.decode_png(tf.io.read_file(png)).shape[:2]
    figure_summaries.write_summaries(str(tmp_path / "tb"), {"hessian/spectrum": png},
                                     {"table": "| a |"})
    found = {}
    for path in tensorboard_logs.event_files(str(tmp_path / "tb")):
        for record in tf.data.TFRecordDataset(path):
            for value in tf.compat.v1.Event.FromString(record.numpy()).summary.value:
                found[value.tag] = value
    # An image summary holds [width, height, encoded PNG...] as strings.
    image = tf.make_ndarray(found["hessian/spectrum"].tensor)
    assert (int(image[0]), int(image[1])) == (width, height)
    assert "table" in found
