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

Importing the package also turns on TensorFlow's oneDNN CPU kernels on x86-64 (below), so it
must come before ``import tensorflow`` for that to take effect.
"""

import importlib
import os
import platform

from tf_fastls0.utils.cores import usable_cores

__version__ = "0.1.0"

_PUBLIC = {
    "SparseAdversarialModel": "tf_fastls0.training.sparse_adversarial_model",
    "with_example_index": "tf_fastls0.training.fit_data",
    "RobustValidation": "tf_fastls0.training.callbacks",
    "CatastrophicOverfittingMonitor": "tf_fastls0.training.callbacks",
    "StepSummaries": "tf_fastls0.training.callbacks",
    "evaluate_model": "tf_fastls0.evaluation",
    "EvalConfig": "tf_fastls0.evaluation",
    "METHODS": "tf_fastls0.training.methods",
}

__all__ = sorted(_PUBLIC)


def _prefer_onednn_cpu_kernels():
    """``TF_ENABLE_ONEDNN_OPTS=1`` on x86-64 unless the user set it (issue 27, part 1).

    TensorFlow's Linux wheels turn oneDNN on by default only on CPUs with AVX512-VNNI,
    AVX512-BF16, AVX-VNNI or AMX (``DefaultOneDnnPolicy``, tensorflow/core/util/port.cc): recent
    Intel Xeons, not AMD EPYC up to Zen 3 nor older Intel. Without it, convolutions run Eigen's
    kernels, whose backward passes cost about 1.65x oneDNN's (PyTorch's CPU kernels): on a 2-core
    AMD EPYC, PreAct ResNet-18 forward+backward, batch 128, took 1.78x the CPU time with oneDNN
    off, and our standard step (width 0.5, batch 32) 1.87x (benchmarks/README.md, "Where the
    time goes"). TensorFlow reads the variable once, when it loads, so this only works before
    ``import tensorflow``: the commands, benchmarks and tests import this package first;
    ``TF_ENABLE_ONEDNN_OPTS=0`` keeps Eigen's kernels.

    Not on a single core: there TensorFlow 2.21's oneDNN kernels with one intra-op thread
    corrupted the heap on small shapes (PreAct ResNet-18 at width 0.0625 on 8x8 images, batch 4:
    ``malloc_consolidate(): invalid chunk size``, abort; at width 0.25 on 32x32 it ran), and a
    single core is where TensorFlow takes one intra-op thread by default.
    Results differ from Eigen's in float32 rounding only."""
    if platform.machine().lower() in ("x86_64", "amd64") and usable_cores() > 1:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


_prefer_onednn_cpu_kernels()


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'tf_fastls0' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)


def __dir__():
    return sorted(list(globals()) + list(_PUBLIC))
