"""Train a classifier: ``python -m tf_fastls0.train --flagfile=configs/quickstart.flags``."""

from absl import app, flags, logging

import tf_fastls0.data.flags as data_flags
import tf_fastls0.training.flags as training_flags
from tf_fastls0.data import DataError
from tf_fastls0.training.flags import config_from_flags, define_flags
from tf_fastls0.utils.cli import UsageError, fail, parse_flags

define_flags()
flags.adopt_module_key_flags(training_flags)  # --helpshort lists them
flags.adopt_module_key_flags(data_flags)


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TF's saver and exporter are chatty at INFO
    if len(argv) > 1:
        fail(f"unexpected arguments {' '.join(argv[1:])!r}; every setting is a --flag")
    from tf_fastls0.training.run import TrainingDiverged, train_and_evaluate  # keeps --help fast

    try:
        summary = train_and_evaluate(config_from_flags())
    except (DataError, UsageError) as error:
        fail(str(error))
    except TrainingDiverged as error:
        fail(str(error), status=1)
    print(f"clean accuracy {summary['clean_accuracy']:.4f}; outputs in {summary['config']['output_dir']}")


def run():
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    run()
