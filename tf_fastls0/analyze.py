"""Analyse trained models (SPEC section 8): ``python -m tf_fastls0.analyze --model=runs/x``.

``--analysis=hessian|landscape|gradient_norm|locations|interpolation|gradient_distance|all``
(comma-separated for several); ``--helpfull`` lists every flag.
"""

from absl import flags, logging

import tf_fastls0.data.flags as data_flags
import tf_fastls0.analysis.flags as analysis_flags
from tf_fastls0.analysis.flags import config_from_flags, define_flags
from tf_fastls0.utils.cli import UsageError, fail, refuse_positional_arguments, run_main

define_flags()
flags.adopt_module_key_flags(analysis_flags)  # --helpshort lists them
flags.adopt_module_key_flags(data_flags)


def main(argv):
    logging.set_verbosity(logging.WARNING)
    refuse_positional_arguments(argv)
    from tf_fastls0.analysis.context import AnalysisError
    from tf_fastls0.analysis.report import report_lines
    from tf_fastls0.analysis.runner import run_analyses
    from tf_fastls0.utils.output_paths import describe

    try:
        outcome = run_analyses(config_from_flags())
    except (AnalysisError, UsageError) as error:  # UsageError: bad model or output paths
        fail(str(error))
    except OSError as error:  # a write failing midway (a full disk); earlier outputs stay
        fail(describe(error, "the output folder"), status=1)
    print("\n".join(report_lines(outcome)))


def run():
    run_main(main)


if __name__ == "__main__":
    run()
