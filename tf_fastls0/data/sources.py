"""Picks the data source a run asked for: the built-in shapes, an image folder, or TFDS."""

import dataclasses
from typing import Optional

from tf_fastls0.data.image_folder import load_image_folder
from tf_fastls0.data.image_set import DataError, DataSplits
from tf_fastls0.data.shapes import load_shapes
from tf_fastls0.data.tfds_source import load_tfds

BUILTIN = "shapes10"
TFDS_NAMES = ("cifar10", "cifar100", "svhn_cropped", "mnist", "fashion_mnist")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where a run's images come from. ``data_dir`` wins over ``dataset`` when given."""

    dataset: str = BUILTIN
    data_dir: Optional[str] = None
    tfds_data_dir: Optional[str] = None
    tfds_download: bool = True
    image_size: Optional[int] = None
    max_train_examples: Optional[int] = None
    max_eval_examples: Optional[int] = None
    seed: int = 0


def load_data(config: DataConfig) -> DataSplits:
    """Loads both splits into memory, capped as the config says; ``DataError`` for a source that
    cannot be used, one with fewer than two classes included."""
    splits = _load(config)
    if splits.num_classes < 2:
        names = ", ".join(repr(name) for name in splits.train.class_names) or "none"
        raise DataError(f"{config.data_dir or splits.name} has {splits.num_classes} class "
                        f"({names}); a classifier needs at least two")
    return splits


def _load(config):
    if config.data_dir:
        return load_image_folder(config.data_dir, config.image_size,
                                 max_train=config.max_train_examples,
                                 max_test=config.max_eval_examples, seed=config.seed)
    if config.dataset == BUILTIN:
        splits = load_shapes()
    elif config.dataset in TFDS_NAMES:
        splits = load_tfds(config.dataset, config.tfds_data_dir, config.tfds_download)
    else:
        raise DataError(f"unknown data set {config.dataset!r}: choose {BUILTIN!r}, one of "
                        f"{', '.join(TFDS_NAMES)}, or an image folder with --data_dir")
    return DataSplits(splits.name, splits.train.subset(config.max_train_examples, config.seed),
                      splits.test.subset(config.max_eval_examples, config.seed))
