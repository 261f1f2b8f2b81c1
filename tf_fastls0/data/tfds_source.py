"""TensorFlow Datasets by name (``cifar10``, ``cifar100``, ...): each split into memory, or left in
its ArrayRecord files to stream (``tfds_records.py``), as ``pipeline`` says.

A data set stored as ArrayRecord (prepared with ``file_format="array_record"``, or converted by
``tfds convert_format``) is read by record index either way (TFDS's ``as_dataset`` cannot read
ArrayRecord), and ``auto`` keeps a split in memory when it fits in ``MEMORY_LIMIT_BYTES``
decoded, as for image folders. One stored as TFRecord only can only be held in memory
(``as_dataset``, read in order); ``--pipeline=stream`` then says how to convert it.
``--tfds_download`` with ``stream`` prepares a data set as ArrayRecord. A folder that does not
hold the data set says so, with either pipeline.
"""

import numpy as np

from tf_fastls0.data.image_folder import in_memory
from tf_fastls0.data.image_set import DataError, DataSplits, ImageSet
from tf_fastls0.data.tfds_records import TfdsRecords

ARRAY_RECORD = "array_record"


def load_tfds(name, data_dir=None, download=True, max_train=None, max_test=None, seed=0,
              pipeline="memory"):
    """Loads the ``train`` and ``test`` splits of a TFDS image-classification data set."""
    import tensorflow_datasets as tfds  # imported here: it is slow to import and only this source needs it

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if download:
            builder.download_and_prepare(
                file_format=ARRAY_RECORD if pipeline == "stream" else None)
        _check_prepared(builder, name, data_dir)
        if _has_records(builder):
            splits = {split: _placed(TfdsRecords.of_split(builder, split).subset(
                limit, seed), pipeline) for split, limit in (("train", max_train),
                                                             ("test", max_test))}
        else:
            _check_in_memory(name, pipeline)
            splits = {split: _in_memory(builder, split).subset(limit, seed)
                      for split, limit in (("train", max_train), ("test", max_test))}
    except DataError:
        raise
    except Exception as error:  # TFDS raises many kinds; all mean the same to the user
        where = data_dir or "the default TFDS folder"
        raise DataError(f"TFDS data set {name!r} could not be loaded from {where}: "
                        f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''} "
                        "(without internet, use --data_dir with an image folder)") from None
    return DataSplits(name, splits["train"], splits["test"])


def _check_prepared(builder, name, data_dir):
    """A folder without the data set (missing, empty, another version) says so, whatever the
    pipeline: without this check streaming would read the absence of ArrayRecord files as a
    TFRecord data set."""
    if not builder.is_prepared():
        where = data_dir or "the default TFDS folder"
        raise DataError(f"there is no TFDS data set {name!r} in {where} (no {builder.data_dir}); "
                        "pass the --tfds_data_dir that holds it, or --tfds_download to "
                        "download it (without internet, use --data_dir with an image folder)")


def _has_records(builder):
    return any(form.value == ARRAY_RECORD for form in builder.info.available_file_formats())


def _check_in_memory(name, pipeline):
    if pipeline == "stream":
        raise DataError(f"TFDS data set {name!r} is stored as TFRecord, which TFDS reads only in "
                        "order; to stream it, convert it to ArrayRecord (tfds convert_format "
                        f"--dataset_dir=<its folder> --out_file_format={ARRAY_RECORD}) or use "
                        "--pipeline=memory")


def _placed(records, pipeline):
    return records.decoded() if in_memory(records, pipeline) else records


def _in_memory(builder, split):
    """A TFRecord split read in order (``as_dataset``) into an ``ImageSet``."""
    image_key, label_key = builder.info.supervised_keys or ("image", "label")
    images, labels = [], []
    for example in builder.as_dataset(split=split).as_numpy_iterator():
        images.append(example[image_key])
        labels.append(example[label_key])
    if not images:
        raise DataError("TFDS split is empty")
    return ImageSet(np.stack(images), np.asarray(labels, dtype=np.int32),
                    tuple(builder.info.features[label_key].names))
