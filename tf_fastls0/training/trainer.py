"""Deprecated: the training model is ``SparseAdversarialModel``
(``training/sparse_adversarial_model.py``), the one class the command and the Python API share.

``AdversarialTrainer``, the base class it once had, is kept as an alias of it for one release,
with a ``DeprecationWarning`` when it is imported or read.
"""

import warnings


def __getattr__(name):
    if name == "AdversarialTrainer":
        warnings.warn("tf_fastls0.training.trainer.AdversarialTrainer is deprecated: use "
                      "tf_fastls0.SparseAdversarialModel", DeprecationWarning, stacklevel=2)
        from tf_fastls0.training.sparse_adversarial_model import SparseAdversarialModel
        return SparseAdversarialModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
