"""The tiny run the toy scripts (``toy_objective.py``, ``toy_add_on.py``) train once their toy
is registered: their flags parsed into a ``TrainConfig``, 32 built-in images, two steps of the
command's model. Import it after the toy's table lines: the config class reads the tables when
it is made."""

import dataclasses

from tf_fastls0 import data as data_lib
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.run import build_trainer
from tf_fastls0.utils import settings

TINY = ("--model=small_cnn", "--width=0.25", "--epochs=1", "--batch_size=16", "--train_eps=4",
        "--eval_eps=4", "--val_robust_examples=0", "--verbose=0")


def trained(flag_values, *given):
    """``(config, history)`` of two training steps with ``given`` flags on top of ``TINY``."""
    flag_values(["train", *given, *TINY])
    config = dataclasses.replace(settings.from_flags(TrainConfig, flag_values),
                                 data=data_lib.DataConfig(max_train_examples=32,
                                                          max_eval_examples=16))
    splits = data_lib.load_data(config.data)
    trainer, _ = build_trainer(config, splits)
    batches = data_lib.training_dataset(splits.train, config.batch_size, 1, config.seed,
                                        augment=False)
    history = trainer.fit(batches, epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)
    return config, history
