"""Sparse (l0) attacks: Sparse-PGD, Sparse-RS, CornerSearch, SAIF, sigma-zero and the
Sparse-AutoAttack cascade (SPEC §2-4).

Every attack has one interface (``common``): ``attack(model, images, labels, *, eps, ...)`` with a
``keras.Model`` or any callable (images in [0, 1] -> logits, inference mode), numpy arrays or
tensors, the budget ``eps`` (pixels, or the structures of a ``threat``: sPGD, Sparse-RS and the
cascade attack structures, the others refuse them), the paper's default budget (``paper_budget``)
and keyword settings named alike across attacks (``iterations``, ``queries``, ``keys``, ``seed``,
``counter``, ``clean_logits``, ``compact``). ``ATTACKS`` (``registry``) is the one registry of
them by name, the names ``--attacks`` takes: ``ATTACKS["rs"](model, images, labels, eps=20)``.
"""

from tf_fastls0.attacks.sparse_autoattack import (CLEAN_MISTAKE, NOT_FOUND, SURVIVED,
                                                  SparseAutoAttack, SparseAutoAttackResult,
                                                  sparse_autoattack)
from tf_fastls0.attacks.registry import (ATTACK_NAMES, ATTACKS, CASCADES, DISPLAY_NAMES,
                                         STAGE_CODES, STAGES, Attack, resolve_stages)
from tf_fastls0.attacks.cornersearch import CornerSearchResult, cornersearch
from tf_fastls0.attacks.saif import SAIFResult, saif
from tf_fastls0.attacks.sigma_zero import SigmaZeroResult, sigma_zero
from tf_fastls0.attacks.sparse_pgd import LOSSES, SparsePGDResult, random_variant, sparse_pgd
from tf_fastls0.attacks.sparse_rs import SparseRSResult, sparse_rs
from tf_fastls0.attacks.topk_mask import sparse_perturbation, topk_mask
