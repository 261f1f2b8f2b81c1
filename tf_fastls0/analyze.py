"""Analyse trained models (SPEC section 8): ``python -m tf_fastls0.analyze --model=runs/x``.

``--analysis=hessian|landscape|gradient_norm|locations|interpolation|gradient_distance|all``
(comma-separated for several); ``--helpfull`` lists every flag. Every flag is a field of
``AnalysisConfig`` (``analysis/config.py``).
"""

from absl import flags, logging

from tf_fastls0.analysis.config import AnalysisConfig
from tf_fastls0.utils import settings
from tf_fastls0.utils.cli import UsageError, fail, refuse_positional_arguments, run_main

settings.define_flags(AnalysisConfig)
flags.adopt_module_key_flags(settings)  # --helpshort lists them


def main(argv):
    logging.set_verbosity(logging.WARNING)
    refuse_positional_arguments(argv)
    from tf_fastls0.analysis.report import report_lines
    from tf_fastls0.analysis.runner import run_analyses
    from tf_fastls0.utils.output_paths import describe

    try:
        outcome = run_analyses(settings.from_flags(AnalysisConfig))
    except UsageError as error:  # bad settings, models or output paths
        fail(str(error))
    except OSError as error:  # a write failing midway (a full disk); earlier outputs stay
        fail(describe(error, "the output folder"), status=1)
    print("\n".join(report_lines(outcome)))


def run():
    run_main(main)


if __name__ == "__main__":
    run()
