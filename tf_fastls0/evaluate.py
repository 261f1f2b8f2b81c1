"""Evaluate l0 robustness: ``python -m tf_fastls0.evaluate --flagfile=configs/eval_quick.flags
--model=runs/<run>``; writes ``report.json`` and prints a Table-4-style row."""

import os

from absl import flags, logging

import tf_fastls0.data.flags as data_flags
import tf_fastls0.evaluation.flags as evaluation_flags
from tf_fastls0.data import DataError
from tf_fastls0.evaluation.flags import define_flags, options_from_flags
from tf_fastls0.utils.cli import (RunFailed, UsageError, fail, refuse_positional_arguments,
                                  run_main)

define_flags()
flags.adopt_module_key_flags(evaluation_flags)  # --helpshort lists them
flags.adopt_module_key_flags(data_flags)


def main(argv):
    logging.set_verbosity(logging.WARNING)
    refuse_positional_arguments(argv)
    import tensorflow as tf

    from tf_fastls0.evaluation import REPORT_FILE, evaluate_model, markdown_table

    # TF's tracing warnings (the sanity checks call the model on odd inputs on purpose) would
    # drown the progress bar and our own warnings.
    tf.get_logger().setLevel("ERROR")

    try:
        options = options_from_flags()
        report = evaluate_model(**options)
    except (DataError, UsageError) as error:
        fail(str(error))
    except RunFailed as error:  # a full disk midway: the message names the state kept
        fail(str(error), status=1)
    print(markdown_table(report))
    print(f"report: {os.path.join(options['output_dir'], REPORT_FILE)}")
    if not report["complete"]:
        print(f"stopped after --max_batches={options['max_batches']}: {report['n_examples']} "
              "images done; continue with --resume")


def run():
    run_main(main)


if __name__ == "__main__":
    run()
