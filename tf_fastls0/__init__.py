"""tf_fastls0: fast (1-step) adversarial training against sparse, l0-bounded attacks.

The Python API (README "Use it from Python"), imported on first use so that ``import
tf_fastls0`` and the commands' ``--help`` stay fast:

- ``SparseAdversarialModel(classifier, method="fast_ls_l0", **settings)``: any Keras classifier
  trained with a method of the table inside ``compile`` / ``fit`` / ``evaluate``;
  ``with_example_index(ds)`` indexes an unbatched ``(x, y)`` data set before it is shuffled;
- callbacks for your own ``fit``: ``RobustValidation`` (per-epoch robust accuracy),
  ``CatastrophicOverfittingMonitor``, ``StepSummaries`` (TensorBoard scalars by optimizer step);
- ``evaluate_model``: Sparse-AutoAttack on a model path, an in-memory Keras model or a callable,
  on the command's data or on numpy arrays; ``EvalConfig`` its settings;
- ``METHODS``: the training methods by name.
"""

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "SparseAdversarialModel": "tf_fastls0.training.sparse_adversarial_model",
    "with_example_index": "tf_fastls0.training.sparse_adversarial_model",
    "RobustValidation": "tf_fastls0.training.callbacks",
    "CatastrophicOverfittingMonitor": "tf_fastls0.training.callbacks",
    "StepSummaries": "tf_fastls0.training.callbacks",
    "evaluate_model": "tf_fastls0.evaluation",
    "EvalConfig": "tf_fastls0.evaluation",
    "METHODS": "tf_fastls0.training.methods",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'tf_fastls0' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)


def __dir__():
    return sorted(list(globals()) + list(_PUBLIC))
