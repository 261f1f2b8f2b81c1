"""A split of a TFDS data set left in its ArrayRecord files: record indices and labels, each
image read and decoded by tf.data when a batch needs it (TFDS's streaming path).

Streaming with the in-memory path's batches needs random access: the pipeline shuffles each
epoch's elements with a full-size buffer, and the same permutation of the record indices as of
the images gives the same order. TFDS gives random access for ArrayRecord files only
(``as_data_source``); TFRecord files read in order, where a shuffle window would give another
order. So a record index is the element: the map reads its record (``tf.numpy_function`` over the
raw-bytes data source) and decodes it with the data set's own TF decoder
(``features.deserialize_example``). The in-memory form of such a split is decoded through the
same reader (``decoded``), so both forms hold the same images.

It answers what the trainer, the evaluation and the analysis ask of an ``ImageSet`` (the same
interface as ``ImageFiles``). The position of a record in ``keys`` is its example index.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from tf_fastls0.data.image_set import PAD_CROP, DataError, ImageSet
from tf_fastls0.data.streamed_split import StreamedSplit

LABEL_BATCH = 1024


class RecordReader:
    """One split's raw records by index, and the TF decoding of a record into (image, label)."""

    def __init__(self, builder, split):
        import tensorflow_datasets as tfds  # slow to import; only TFDS sources need it

        self._source = builder.as_data_source(
            split, deserialize_method=tfds.decode.DeserializeMethod.RAW_BYTES,
            file_format="array_record")
        self.name = f"TFDS {builder.name} {split} in {builder.data_dir}"
        self.features = builder.info.features
        self.image_key, self.label_key = builder.info.supervised_keys or ("image", "label")
        self._skip_image = {self.image_key: tfds.decode.SkipDecoding()}

    def __len__(self):
        return len(self._source)

    def record(self, index):
        """The serialised record at ``index`` (tf.data map function)."""
        return tf.numpy_function(lambda i: self._source[int(i)], [index], tf.string,
                                 stateful=False)

    def image(self, record):
        return self.features.deserialize_example(record)[self.image_key]

    def labels(self):
        """Every record's label in index order, images left undecoded."""
        label = lambda record: self.features.deserialize_example(  # noqa: E731
            record, decoders=self._skip_image)[self.label_key]
        dataset = tf.data.Dataset.range(len(self)).map(
            lambda i: label(self.record(i)), num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True).batch(LABEL_BATCH)
        return np.concatenate([batch.numpy() for batch in dataset]).astype(np.int32)


@dataclasses.dataclass(frozen=True, eq=False)
class TfdsRecords(StreamedSplit):
    """One split as records of ``reader``, images all of ``image_shape``."""

    ELEMENTS = "keys"

    keys: np.ndarray  # int64 record indices
    labels: np.ndarray
    class_names: tuple
    image_shape: tuple
    reader: RecordReader
    augmentation: str = PAD_CROP

    @classmethod
    def of_split(cls, builder, split):
        reader = RecordReader(builder, split)
        image_shape = tuple(reader.features[reader.image_key].shape)
        if None in image_shape:
            raise DataError(f"TFDS data set {builder.name!r} has images of several sizes "
                            f"{image_shape}; it cannot be read as records")
        return cls(np.arange(len(reader), dtype=np.int64), reader.labels(),
                   tuple(reader.features[reader.label_key].names), image_shape, reader)

    def element_name(self, key):
        return f"record {int(key)} of {self.reader.name}"

    def load(self, key):
        """The uint8 image of one record (tf.data map function)."""
        image = self.reader.image(self.reader.record(key))
        return tf.ensure_shape(image, self.image_shape)

    def unaugmented(self, image):
        return image

    def decoded(self):
        """This split decoded into memory, as an ``ImageSet``."""
        return ImageSet(self.images_at(), self.labels, self.class_names)

