"""Sparse (l0) attacks: Sparse-PGD, Sparse-RS and the Sparse-AutoAttack cascade (SPEC §2-4).

Every attack is a function over a ``model_fn`` (images in [0, 1] -> logits, inference mode) whose
budget ``eps`` counts pixels. ``stages.TABLE`` names every attack the evaluation can run.
sPGD, Sparse-RS and the cascade also take a structured ``threat`` (``threats.THREATS``: patches,
lines, groups), where ``eps`` counts structures.
"""

from tf_fastls0.attacks.sparse_autoattack import (CLEAN_MISTAKE, NOT_FOUND, SURVIVED,
                                                  SparseAutoAttack, SparseAutoAttackResult,
                                                  sparse_autoattack)
from tf_fastls0.attacks.stages import (ATTACK_NAMES, CASCADES, DISPLAY_NAMES, STAGE_CODES, STAGES,
                                       TABLE, resolve_stages)
from tf_fastls0.attacks.cornersearch import CornerSearchResult, cornersearch
from tf_fastls0.attacks.saif import SAIFResult, saif
from tf_fastls0.attacks.sigma_zero import SigmaZeroResult, sigma_zero
from tf_fastls0.attacks.sparse_pgd import LOSSES, SparsePGDResult, random_variant, sparse_pgd
from tf_fastls0.attacks.sparse_rs import SparseRSResult, sparse_rs
from tf_fastls0.attacks.topk_mask import sparse_perturbation, topk_mask

# The attacks with an l0 budget ``eps`` (sigma-zero, minimum-norm, has none).
ATTACKS = {
    "sparse_pgd": sparse_pgd,
    "sparse_rs": sparse_rs,
    "sparse_autoattack": sparse_autoattack,
    "cornersearch": cornersearch,
    "saif": saif,
}
