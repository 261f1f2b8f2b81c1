"""TensorFlow Datasets by name (``cifar10``, ``cifar100``, ...), loaded into memory."""

import numpy as np

from tf_fastls0.data.image_set import DataError, DataSplits, ImageSet


def load_tfds(name, data_dir=None, download=True, max_train=None, max_test=None, seed=0):
    """Loads the ``train`` and ``test`` splits of a TFDS image-classification data set."""
    import tensorflow_datasets as tfds  # imported here: it is slow to import and only this source needs it

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if download:
            builder.download_and_prepare()
        label_feature = builder.info.features["label"]
        splits = {split: _split_to_arrays(builder.as_dataset(split=split, as_supervised=True))
                  for split in ("train", "test")}
    except DataError:
        raise
    except Exception as error:  # TFDS raises many kinds; all mean the same to the user
        where = data_dir or "the default TFDS folder"
        raise DataError(f"TFDS data set {name!r} could not be loaded from {where}: "
                        f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''} "
                        "(without internet, use --data_dir with an image folder)") from None
    class_names = tuple(label_feature.names)
    train = ImageSet(*splits["train"], class_names).subset(max_train, seed)
    test = ImageSet(*splits["test"], class_names).subset(max_test, seed)
    return DataSplits(name, train, test)


def _split_to_arrays(dataset):
    images, labels = [], []
    for image, label in dataset.as_numpy_iterator():
        images.append(image)
        labels.append(label)
    if not images:
        raise DataError("TFDS split is empty")
    return np.stack(images), np.asarray(labels, dtype=np.int32)
