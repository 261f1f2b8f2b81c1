"""The data flags shared by training, evaluation and analysis."""

from absl import flags

from tf_fastls0.data.sources import BUILTIN, TFDS_NAMES, DataConfig


def define_data_flags():
    flags.DEFINE_enum("dataset", BUILTIN, (BUILTIN,) + TFDS_NAMES,
                      f"Data set by name: {BUILTIN!r} is built in (generated, no download); the "
                      "others come from TFDS. Ignored when --data_dir is given.")
    flags.DEFINE_string("data_dir", None,
                        "Image folder with train/<class>/* and test/<class>/* (JPEG or PNG); "
                        "classes are the sub-folder names in sorted order.")
    flags.DEFINE_string("tfds_data_dir", None, "Where TFDS keeps its data sets (TFDS' default if unset).")
    flags.DEFINE_boolean("tfds_download", True,
                         "Let TFDS download a data set it does not find in --tfds_data_dir.")
    flags.DEFINE_integer("image_size", None, "Resize image-folder images to this square size "
                         "(e.g. 32 for GTSRB); unset keeps their size.", lower_bound=1)
    flags.DEFINE_integer("max_train_examples", None,
                         "Use a fixed random subset of at most this many training images.",
                         lower_bound=1)
    flags.DEFINE_integer("max_eval_examples", None,
                         "Use a fixed random subset of at most this many test images.", lower_bound=1)


def data_config_from_flags(values, seed=0):
    return DataConfig(dataset=values.dataset, data_dir=values.data_dir,
                      tfds_data_dir=values.tfds_data_dir, tfds_download=values.tfds_download,
                      image_size=values.image_size, max_train_examples=values.max_train_examples,
                      max_eval_examples=values.max_eval_examples, seed=seed)
