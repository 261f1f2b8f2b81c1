"""Data: every source becomes an in-memory ImageSet or, for image folders and ArrayRecord TFDS
data sets, ImageFiles or TfdsRecords to stream; then a tf.data pipeline of
``(image, label, example_index)`` batches."""

from tf_fastls0.data.image_files import ImageFiles
from tf_fastls0.data.image_set import DataError, DataSplits, ImageSet
from tf_fastls0.data.pipeline import evaluation_dataset, steps_per_epoch, training_dataset
from tf_fastls0.data.sources import BUILTIN, TFDS_NAMES, DataConfig, load_data

__all__ = ["BUILTIN", "TFDS_NAMES", "DataConfig", "DataError", "DataSplits", "ImageFiles",
           "ImageSet", "evaluation_dataset", "load_data", "steps_per_epoch", "training_dataset"]
