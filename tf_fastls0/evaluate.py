"""Evaluate l0 robustness: ``python -m tf_fastls0.evaluate --flagfile=configs/eval_quick.flags
--model=runs/<run>``; writes ``report.json`` and prints a Table-4-style row."""

import os

from absl import app, flags, logging

import tf_fastls0.data.flags as data_flags
import tf_fastls0.evaluation.flags as evaluation_flags
from tf_fastls0.data import DataError
from tf_fastls0.evaluation.flags import define_flags, options_from_flags
from tf_fastls0.utils.cli import UsageError, fail, parse_flags

define_flags()
flags.adopt_module_key_flags(evaluation_flags)  # --helpshort lists them
flags.adopt_module_key_flags(data_flags)


def main(argv):
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        fail(f"unexpected arguments {' '.join(argv[1:])!r}; every setting is a --flag")
    import tensorflow as tf

    from tf_fastls0.evaluation import REPORT_FILE, evaluate_model, markdown_table

    # Each batch traces the attacks afresh (sparse_autoattack compiles per call); TF's retracing
    # warnings would drown the progress bar and the sanity-check warnings.
    tf.get_logger().setLevel("ERROR")

    try:
        options = options_from_flags()
        report = evaluate_model(**options)
    except (DataError, UsageError) as error:
        fail(str(error))
    print(markdown_table(report))
    print(f"report: {os.path.join(options['output_dir'], REPORT_FILE)}")
    if not report["complete"]:
        print(f"stopped after --max_batches={options['max_batches']}: {report['n_examples']} "
              "images done; continue with --resume")


def run():
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    run()
