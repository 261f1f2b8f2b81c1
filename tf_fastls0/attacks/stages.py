"""The stage table: every attack the evaluation can run, named once.

Each entry gives an attack's name (what ``--attacks`` takes), its code in ``broken_by`` records,
its display name (report tables, the benchmark harness), and its attack with the settings it
takes from the budget. The cascade (``sparse_autoattack``), the evaluation runner, the report and
the benchmark harness all read this table, so a new evaluation attack is one entry here.

A built stage maps ``(images, labels, keys, clean_logits)`` to the adversarial images, one per
input image; the cascade judges every image by one fresh forward pass on what the stage returns.
Every attack has the one interface of ``common``, so an entry names its attack function, its
draws' counter and the keyword settings it takes from the evaluation's ``Budget``; one builder
serves them all. A minimum-norm stage (``minimum_norm=True``) returns, per image, the fooling image
with the fewest changed pixels it found, whatever the budget: the cascade counts it broken only
within ``eps`` pixels and keeps the count for the robust-accuracy-by-k curve. Only the stages
marked ``structured`` attack a structured threat (``threats``: patches, lines, groups).
"""

from typing import Callable, NamedTuple

from tf_fastls0.attacks.cornersearch import N_ITER, cornersearch
from tf_fastls0.attacks.saif import saif
from tf_fastls0.attacks.sigma_zero import sigma_zero
from tf_fastls0.attacks.sparse_pgd import sparse_pgd
from tf_fastls0.attacks.sparse_rs import sparse_rs


class Budget(NamedTuple):
    """What every stage of one evaluation shares: the l0 budget in pixels, the iteration budget of
    the white-box stages, the query budget of the black-box ones, the seed, sPGD's patience and
    whether stages drop broken images from their working batch; ``threat``: a structured
    ``threats.Threat`` (``eps`` then counts its structures), None for pixels."""
    eps: int
    iterations: int
    queries: int
    seed: int = 0
    patience: int = 3
    compact: bool = True
    threat: object = None


class EvaluationAttack(NamedTuple):
    name: str
    code: int
    display: str
    attack: Callable  # an attack with the interface of ``common``
    settings: Callable  # Budget -> the attack's keyword settings beyond the shared ones
    counter: int = 0  # the counter of the stage's random draws (distinct per stage)
    minimum_norm: bool = False
    structured: bool = False  # attacks structured threats too

    def build(self, model_fn, budget):
        """The stage function of this attack on ``model_fn`` at ``budget``."""
        settings = self.settings(budget)

        # A minimum-norm stage runs unbudgeted: the cascade applies eps and keeps the counts.
        eps = None if self.minimum_norm else budget.eps

        def stage(images, labels, keys, clean_logits):
            return self.attack(model_fn, images, labels, eps=eps, keys=keys,
                               seed=budget.seed, counter=self.counter, clean_logits=clean_logits,
                               compact=budget.compact, threat=budget.threat,
                               **settings).adversarial
        return stage


def _spgd_settings(projected):
    return lambda budget: {"iterations": budget.iterations, "patience": budget.patience,
                           "projected": projected, "loss": "ce"}


TABLE = (
    EvaluationAttack("spgd_unproj", 1, "sPGD-unproj", sparse_pgd, _spgd_settings(False), counter=1,
                     structured=True),
    EvaluationAttack("spgd_proj", 2, "sPGD-proj", sparse_pgd, _spgd_settings(True), counter=2,
                     structured=True),
    EvaluationAttack("rs", 3, "RS", sparse_rs, lambda budget: {"queries": budget.queries},
                     counter=3, structured=True),
    # CornerSearch's n_iter (candidates per sparsity and class): the paper's 1,000 capped at the
    # query budget, so a quick evaluation stays quick.
    EvaluationAttack("cornersearch", 4, "CS", cornersearch,
                     lambda budget: {"n_iter": min(budget.queries, N_ITER)}, counter=4),
    EvaluationAttack("saif", 5, "SAIF", saif, lambda budget: {"iterations": budget.iterations},
                     counter=5),
    EvaluationAttack("sigma_zero", 6, "sigma-zero", sigma_zero,
                     lambda budget: {"iterations": budget.iterations}, minimum_norm=True),
)
BY_NAME = {attack.name: attack for attack in TABLE}

# Named sequences of stages, each stage run only on the images the ones before it left unbroken.
CASCADES = {"saa": ("spgd_unproj", "spgd_proj", "rs")}
CASCADE_DISPLAY = {"saa": "sAA"}

STAGES = CASCADES["saa"]
STAGE_CODES = {attack.name: attack.code for attack in TABLE}
ATTACK_NAMES = tuple(CASCADES) + tuple(BY_NAME)  # what ``--attacks`` accepts
DISPLAY_NAMES = {**{attack.name: attack.display for attack in TABLE}, **CASCADE_DISPLAY}


def resolve_stages(attacks, threat=None):
    """A cascade's name -> its stages; a stage name or a sequence of them -> that tuple.

    With a structured ``threat``, a stage that cannot attack it is refused (``ValueError``)."""
    if isinstance(attacks, str) and attacks in CASCADES:
        return CASCADES[attacks]
    names = (attacks,) if isinstance(attacks, str) else tuple(attacks)
    unknown = [name for name in names if name not in BY_NAME]
    if unknown or not names:
        raise ValueError(f"unknown attacks {unknown or attacks!r}: use "
                         f"{', '.join(ATTACK_NAMES)}")
    if threat is not None and not threat.is_pixels:
        pixel_only = [name for name in names if not BY_NAME[name].structured]
        if pixel_only:
            raise ValueError(f"{', '.join(pixel_only)} attack pixels only, not the {threat.name} "
                             f"threat: use {', '.join(structured_stages())}")
    return names


def structured_stages():
    """The stages that attack structured threats too."""
    return tuple(attack.name for attack in TABLE if attack.structured)
