"""Train a classifier: ``python -m tf_fastls0.train --flagfile=configs/quickstart.flags``.

Every flag is a field of ``TrainConfig`` (``training/config.py``), where its default, help text
and checks live.
"""

from absl import flags, logging

from tf_fastls0.data import DataError
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.utils import settings
from tf_fastls0.utils.cli import (RunFailed, UsageError, fail, refuse_positional_arguments,
                                  run_main)

settings.define_flags(TrainConfig)
flags.adopt_module_key_flags(settings)  # --helpshort lists them


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TF's saver and exporter are chatty at INFO
    refuse_positional_arguments(argv)
    from tf_fastls0.training.run import train_and_evaluate  # keeps --help fast

    try:
        summary = train_and_evaluate(settings.from_flags(TrainConfig))
    except (DataError, UsageError) as error:
        fail(str(error))
    except RunFailed as error:  # a diverged loss, a full disk: the message names what was kept
        fail(str(error), status=1)
    print(f"clean accuracy {summary['clean_accuracy']:.4f}; outputs in {summary['config']['output_dir']}")
    if "final_eval" in summary:
        final = summary["final_eval"]
        print(f"Sparse-AutoAttack ({final['budget']}, k = {final['k']}): clean "
              f"{final['clean_acc']:.1f} %, robust {final['robust_acc']:.1f} %")


def run():
    run_main(main)


if __name__ == "__main__":
    run()
