"""Evaluate l0 robustness: ``python -m tf_fastls0.evaluate --flagfile=configs/eval_quick.flags
--model=runs/<run>``; writes ``report.json`` and prints a Table-4-style row.

Every flag is a field of ``EvalConfig`` (``evaluation/config.py``); the data flags are those of
``DataConfig``; without any, the model's run folder's data settings apply, and with some, its
input settings (preprocessing, image size) fill those not given.
"""

import os

from absl import flags, logging

from tf_fastls0.data import DataError
from tf_fastls0.evaluation.config import EvalConfig
from tf_fastls0.utils import settings
from tf_fastls0.utils.cli import (RunFailed, UsageError, fail, refuse_positional_arguments,
                                  run_main)

settings.define_flags(EvalConfig)
flags.adopt_module_key_flags(settings)  # --helpshort lists them


def main(argv):
    logging.set_verbosity(logging.WARNING)
    refuse_positional_arguments(argv)
    import tensorflow as tf

    from tf_fastls0.evaluation import REPORT_FILE, evaluate_model, markdown_table

    # TF's tracing warnings (the sanity checks call the model on odd inputs on purpose) would
    # drown the progress bar and our own warnings.
    tf.get_logger().setLevel("ERROR")

    try:
        config = settings.from_flags(EvalConfig)
        report = evaluate_model(config)
    except (DataError, UsageError) as error:
        fail(str(error))
    except RunFailed as error:  # a full disk midway: the message names the state kept
        fail(str(error), status=1)
    print(markdown_table(report))
    print(f"report: {os.path.join(report['settings']['output_dir'], REPORT_FILE)}")
    if not report["complete"]:
        print(f"stopped after --max_batches={config.max_batches}: {report['n_examples']} "
              "images done; continue with --resume")


def run():
    run_main(main)


if __name__ == "__main__":
    run()
