"""Runs the analyses an ``AnalysisConfig`` asks for, in order, on one or several exported models.

Model paths are resolved before any work (a bad one fails at once); gradient_norm reads only the
run folders' logs, the others load the data and the models once and share their attacks. Every
figure also goes into ``<output_dir>/tensorboard`` as an image summary.
"""

import os

from tf_fastls0.analysis import steps
from tf_fastls0.analysis.context import AnalysisContext, AnalysisError
from tf_fastls0.analysis.figure_summaries import write_summaries
from tf_fastls0.models.loading import locate
from tf_fastls0.utils.atomic import write_json

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
    settings that cannot work."""
    sources = [locate(path, prefer="keras") for path in config.model]
    labels = list(config.labels or [source.default_label for source in sources])
    if len(set(labels)) != len(labels):
        raise AnalysisError(f"models need different names, got {labels}: pass --labels")
    output_dir = output_dir_of(config, sources)
    os.makedirs(output_dir, exist_ok=True)
    write_json(os.path.join(output_dir, SETTINGS_FILE), config.to_dict())

    results, figures, texts = {}, {}, {}
    context = None
    for name in config.analysis:
        if name == "gradient_norm":
            output = steps.gradient_norm(sources, labels, output_dir)
        else:
            context = context or AnalysisContext.create(config, sources, labels)
            output = steps.STEPS[name](context, output_dir)
        results[name] = output.summary
        figures.update(output.figures)
        texts.update(output.texts)
    write_summaries(os.path.join(output_dir, TENSORBOARD_DIR), figures, texts)
    return {"output_dir": output_dir, "results": results, "texts": texts}
