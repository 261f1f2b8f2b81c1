"""Train a classifier: ``python -m tf_fastls0.train --flagfile=configs/quickstart.flags``."""

from absl import flags, logging

import tf_fastls0.data.flags as data_flags
import tf_fastls0.training.flags as training_flags
from tf_fastls0.data import DataError
from tf_fastls0.training.flags import config_from_flags, define_flags
from tf_fastls0.utils.cli import (RunFailed, UsageError, fail, refuse_positional_arguments,
                                  run_main)

define_flags()
flags.adopt_module_key_flags(training_flags)  # --helpshort lists them
flags.adopt_module_key_flags(data_flags)


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TF's saver and exporter are chatty at INFO
    refuse_positional_arguments(argv)
    from tf_fastls0.training.run import train_and_evaluate  # keeps --help fast

    try:
        summary = train_and_evaluate(config_from_flags())
    except (DataError, UsageError) as error:
        fail(str(error))
    except RunFailed as error:  # a diverged loss, a full disk: the message names what was kept
        fail(str(error), status=1)
    print(f"clean accuracy {summary['clean_accuracy']:.4f}; outputs in {summary['config']['output_dir']}")


def run():
    run_main(main)


if __name__ == "__main__":
    run()
