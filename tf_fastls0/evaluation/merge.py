"""Merge shard reports: ``python -m tf_fastls0.evaluation.merge --reports=a.json,b.json
--output=merged.json`` (a folder holding ``report.json`` may stand for its report)."""

import json
import os

from absl import flags

from tf_fastls0.evaluation.merging import merge_reports
from tf_fastls0.evaluation.report import markdown_table
from tf_fastls0.evaluation.robust_curve import ROBUST_VS_K_FILE, plot_robust_vs_k
from tf_fastls0.evaluation.runner import REPORT_FILE
from tf_fastls0.utils.atomic import write_json
from tf_fastls0.utils.cli import UsageError, fail, refuse_positional_arguments, run_main
from tf_fastls0.utils.output_paths import check_output_file, describe, environment_errors

flags.DEFINE_list("reports", None, "Shard reports (report.json files or their folders), "
                  "comma-separated: every shard of one evaluation.")
flags.DEFINE_string("output", None, "Where to write the merged report (JSON).")
FLAGS = flags.FLAGS


def main(argv):
    refuse_positional_arguments(argv)
    if not FLAGS.reports or not FLAGS.output:
        fail("--reports and --output are required")
    try:
        check_output_file(FLAGS.output, "--output")
        paths = [_report_path(path) for path in FLAGS.reports]
        merged = merge_reports([_read(path) for path in paths], sources=paths)
        with environment_errors(FLAGS.output):
            os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
            write_json(FLAGS.output, merged)
            if merged.get("robust_acc_by_k"):
                plot_robust_vs_k(os.path.join(os.path.dirname(os.path.abspath(FLAGS.output)),
                                              ROBUST_VS_K_FILE), merged)
    except UsageError as error:
        fail(str(error))
    print(markdown_table(merged))
    print(f"merged {len(paths)} reports into {FLAGS.output}")


def _report_path(path):
    return os.path.join(path, REPORT_FILE) if os.path.isdir(path) else path


def _read(path):
    try:
        with open(path) as handle:
            report = json.load(handle)
    except OSError as error:
        raise UsageError(describe(error, path, "read")) from None
    except ValueError:
        raise UsageError(f"{path} is not a JSON report") from None
    if not isinstance(report, dict) or "images" not in report or "shard" not in report:
        raise UsageError(f"{path} is not a tf_fastls0 evaluation report")
    return report


if __name__ == "__main__":
    run_main(main)
