"""Runs the analyses an ``AnalysisConfig`` asks for, in order, on one or several exported models.

Model paths, the output folder, the logs and the models' fit to the data are checked before
anything is written (a bad one fails at once, leaving the folder as it was); gradient_norm reads
only the run folders' logs, the others load the data and the models once and share their attacks.
One analysis at a time per output folder (``utils/run_lock.py``). Every
figure also goes into ``<output_dir>/tensorboard`` as an image summary.
"""

import os

from tf_fastls0.analysis import steps
from tf_fastls0.analysis.context import AnalysisContext, AnalysisError
from tf_fastls0.analysis.figure_summaries import write_summaries
from tf_fastls0.models.loading import locate
from tf_fastls0.utils.atomic import clean_temporaries, write_json
from tf_fastls0.utils.output_paths import check_output_dir, environment_errors
from tf_fastls0.utils.run_lock import hold_run_lock
from tf_fastls0.utils.run_marker import ANALYSIS, refuse_other_kind, write_marker

TENSORBOARD_DIR = "tensorboard"
SETTINGS_FILE = "analysis_config.json"


def output_dir_of(config, sources):
    """``--output_dir``, else ``analysis/`` in the first model's run folder (or beside its file)."""
    if config.output_dir:
        return config.output_dir
    first = sources[0]
    return os.path.join(first.run_dir or os.path.dirname(first.path), "analysis")


def run_analyses(config):
    """Runs ``config.analysis``; returns ``{"output_dir", "results": {analysis: summary},
    "texts": {tag: markdown}}``. Raises ``AnalysisError`` or ``ModelError`` for paths or
    settings that cannot work, before anything is written."""
    sources = [locate(path, prefer="keras") for path in config.model]
    labels = list(config.labels or [source.default_label for source in sources])
    if len(set(labels)) != len(labels):
        raise AnalysisError(f"models need different names, got {labels}: pass --labels")
    output_dir = output_dir_of(config, sources)
    check_output_dir(output_dir)
    with hold_run_lock(output_dir):
        refuse_other_kind(output_dir, ANALYSIS)
        logged = (steps.gradient_norm_curves(sources, labels)
                  if "gradient_norm" in config.analysis else None)
        context = (AnalysisContext.create(config, sources, labels)
                   if set(config.analysis) - {"gradient_norm"} else None)
        with environment_errors(output_dir):
            clean_temporaries(output_dir)
            write_marker(output_dir, ANALYSIS)
            write_json(os.path.join(output_dir, SETTINGS_FILE), config.to_dict())
        results, figures, texts = {}, {}, {}
        for name in config.analysis:
            if name == "gradient_norm":
                output = steps.gradient_norm(logged, output_dir)
            else:
                output = steps.STEPS[name](context, output_dir)
            results[name] = output.summary
            figures.update(output.figures)
            texts.update(output.texts)
        write_summaries(os.path.join(output_dir, TENSORBOARD_DIR), figures, texts)
    return {"output_dir": output_dir, "results": results, "texts": texts}
