"""Picks the data source a run asked for: the built-in shapes, an image folder, or TFDS."""

from tf_fastls0.data.config import BUILTIN, TFDS_NAMES, DataConfig  # noqa: F401 (re-exported)
from tf_fastls0.data.image_folder import load_image_folder
from tf_fastls0.data.image_set import DataError, DataSplits
from tf_fastls0.data.shapes import load_shapes
from tf_fastls0.data.tfds_source import load_tfds
from tf_fastls0.utils.cli import UsageError


def load_data(config: DataConfig) -> DataSplits:
    """Loads both splits (image folders and TFDS: into memory or as files or records to
    stream, as ``config.pipeline`` says), capped as the config says; ``DataError`` for a source
    that cannot be used, one with fewer than two classes included."""
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
                                 max_test=config.max_eval_examples, seed=config.seed,
                                 pipeline=config.pipeline, preprocessing=config.preprocessing)
    if config.preprocessing == "imagenet":
        raise UsageError("--preprocessing=imagenet reads image folders (--data_dir)")
    if config.dataset == BUILTIN:
        if config.pipeline == "stream":
            raise UsageError("--pipeline=stream reads image folders (--data_dir) and TFDS data "
                             "sets; the built-in one is held in memory")
        splits = load_shapes()
    else:  # DataConfig refuses names that are neither built in nor in TFDS_NAMES
        splits = load_tfds(config.dataset, config.tfds_data_dir, config.tfds_download,
                           config.max_train_examples, config.max_eval_examples, config.seed,
                           config.pipeline)
    return DataSplits(splits.name, splits.train.subset(config.max_train_examples, config.seed),
                      splits.test.subset(config.max_eval_examples, config.seed))
