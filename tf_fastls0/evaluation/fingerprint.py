"""A sha256 of a model's weights that names the model in reports, whatever format it came in."""

import hashlib

import numpy as np


def weights_sha256(variables):
    """Hashes every variable's dtype, shape and bytes; the per-variable digests are sorted, so the
    hash does not depend on variable order or names (a run's ``.keras`` file and its SavedModel,
    which hold the same variables, hash alike)."""
    digests = sorted(_variable_sha256(variable) for variable in variables)
    return hashlib.sha256("".join(digests).encode()).hexdigest()


def _variable_sha256(variable):
    value = np.ascontiguousarray(np.asarray(variable.numpy()))
    digest = hashlib.sha256(f"{value.dtype.str}{value.shape}".encode())
    digest.update(value.tobytes())
    return digest.hexdigest()
