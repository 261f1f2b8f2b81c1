"""The attack registry: every attack by its one name, read by everything that runs attacks.

``ATTACKS`` maps a name to its ``Attack`` record: what ``--attacks`` takes, what
``tf_fastls0.attacks.ATTACKS[name](model, images, labels, eps=...)`` calls (at the paper's default
budget), the stages of the Sparse-AutoAttack cascade (``sparse_autoattack``), ``RobustValidation``,
the evaluation runner, its report, the benchmark harness and the ART adapter. A record gives the
name, its display name (report tables, the harness), its attack function (the interface of
``common``) with the keyword settings that make this entry of it (sPGD's variant), the settings it
takes from an evaluation's ``Budget``, its code in ``broken_by`` records and the counter of its
random draws. A cascade's record names its stages instead of a function. A new attack is its module
and one line in ``_RECORDS``.

A built stage maps ``(images, labels, keys, clean_logits)`` to the adversarial images, one per
input image; the cascade judges every image by one fresh forward pass on what the stage returns. A
minimum-norm stage (``minimum_norm=True``) returns, per image, the fooling image with the fewest
changed pixels it found, whatever the budget: the cascade counts it broken only within ``eps``
pixels and keeps the count for the robust-accuracy-by-k curve. Only the stages marked
``structured`` attack a structured threat (``threats``: patches, lines, groups).

The function names the registry once used (``sparse_pgd``, ``sparse_rs``, ``sparse_autoattack``)
still look up their entries, with a ``DeprecationWarning``.
"""

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Callable, NamedTuple, Optional

from tf_fastls0.attacks import cornersearch, paper_budget
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
    iterations: int = paper_budget.ITERATIONS
    queries: int = paper_budget.QUERIES
    seed: int = 0
    patience: int = paper_budget.PATIENCE
    compact: bool = True
    threat: object = None


def _no_budget(budget):
    return {}


@dataclasses.dataclass(frozen=True)
class Attack:
    name: str  # what --attacks and ATTACKS take
    display: str  # report tables, the benchmark harness
    function: Optional[Callable] = None  # an attack with the interface of ``common``
    fixed: dict = dataclasses.field(default_factory=dict)  # the keywords that make this entry
    budget: Callable = _no_budget  # Budget -> the attack's budget keywords
    code: int = 0  # its broken_by code (stages only, distinct)
    counter: int = 0  # the counter of its random draws (distinct per stage)
    minimum_norm: bool = False
    structured: bool = False  # attacks structured threats too
    stages: tuple = ()  # a cascade: the entries it runs, each on what the ones before left

    @property
    def is_cascade(self):
        return bool(self.stages)

    def __call__(self, model, images=None, labels=None, **settings):
        """The attack with the interface of ``common``, at its default budget unless given."""
        if self.is_cascade:
            from tf_fastls0.attacks.sparse_autoattack import sparse_autoattack  # it reads us
            return sparse_autoattack(model, images, labels, **{"attacks": self.name, **settings})
        return self.function(model, images, labels, **{**self.fixed, **settings})

    def build(self, model_fn, budget):
        """The stage function of this attack on ``model_fn`` at ``budget``."""
        settings = {**self.fixed, **self.budget(budget)}
        # A minimum-norm stage runs unbudgeted: the cascade applies eps and keeps the counts.
        eps = None if self.minimum_norm else budget.eps

        def stage(images, labels, keys, clean_logits):
            return self.function(model_fn, images, labels, eps=eps, keys=keys,
                                 seed=budget.seed, counter=self.counter,
                                 clean_logits=clean_logits, compact=budget.compact,
                                 threat=budget.threat, **settings).adversarial
        return stage


def _spgd_budget(budget):
    return {"iterations": budget.iterations, "patience": budget.patience}


def _iterations(budget):
    return {"iterations": budget.iterations}


def _queries(budget):
    return {"queries": budget.queries}


def _cornersearch_budget(budget):
    # Candidates per sparsity and class: the paper's 1,000 capped at the query budget, so a quick
    # evaluation stays quick.
    return {"queries": min(budget.queries, cornersearch.QUERIES)}


_RECORDS = {record.name: record for record in (
    Attack("saa", "sAA", stages=("spgd_unproj", "spgd_proj", "rs"), structured=True),
    Attack("spgd_unproj", "sPGD-unproj", sparse_pgd, {"projected": False, "loss": "ce"},
           _spgd_budget, code=1, counter=1, structured=True),
    Attack("spgd_proj", "sPGD-proj", sparse_pgd, {"projected": True, "loss": "ce"},
           _spgd_budget, code=2, counter=2, structured=True),
    Attack("rs", "RS", sparse_rs, budget=_queries, code=3, counter=3, structured=True),
    Attack("cornersearch", "CS", cornersearch.cornersearch, budget=_cornersearch_budget, code=4,
           counter=4),
    Attack("saif", "SAIF", saif, budget=_iterations, code=5, counter=5),
    Attack("sigma_zero", "sigma-zero", sigma_zero, budget=_iterations, code=6,
           minimum_norm=True),
)}

# The function names the first registry used.
OLD_NAMES = {"sparse_pgd": "spgd_unproj", "sparse_rs": "rs", "sparse_autoattack": "saa"}


class _Registry(Mapping):
    """The records by name; an old name finds its entry with a ``DeprecationWarning``."""

    def __init__(self, records):
        self._records = records

    def __getitem__(self, name):
        if name in OLD_NAMES and name not in self._records:
            warnings.warn(f"ATTACKS[{name!r}] is deprecated: use ATTACKS[{OLD_NAMES[name]!r}]",
                          DeprecationWarning, stacklevel=2)
            name = OLD_NAMES[name]
        return self._records[name]

    def __iter__(self):
        return iter(self._records)

    def __len__(self):
        return len(self._records)

    def __contains__(self, name):
        return name in self._records


ATTACKS = _Registry(_RECORDS)


class _View(Mapping):
    """One value of every record that ``has`` it, read from ``ATTACKS`` when asked."""

    def __init__(self, value, has=lambda record: True):
        self._value, self._has = value, has

    def _names(self):
        return [name for name, record in _RECORDS.items() if self._has(record)]

    def __getitem__(self, name):
        if name not in self._names():
            raise KeyError(name)
        return self._value(_RECORDS[name])

    def __iter__(self):
        return iter(self._names())

    def __len__(self):
        return len(self._names())


ATTACK_NAMES = ATTACKS.keys()  # what ``--attacks`` accepts
CASCADES = _View(lambda record: record.stages, lambda record: record.is_cascade)
STAGE_CODES = _View(lambda record: record.code, lambda record: not record.is_cascade)
DISPLAY_NAMES = _View(lambda record: record.display)
STAGES = _RECORDS["saa"].stages


def resolve_stages(attacks, threat=None):
    """A cascade's name -> its stages; a stage name or a sequence of them -> that tuple.

    With a structured ``threat``, a stage that cannot attack it is refused (``ValueError``)."""
    if isinstance(attacks, str) and attacks in CASCADES:
        return CASCADES[attacks]
    names = (attacks,) if isinstance(attacks, str) else tuple(attacks)
    unknown = [name for name in names if name not in STAGE_CODES]
    if unknown or not names:
        raise ValueError(f"unknown attacks {unknown or attacks!r}: use "
                         f"{', '.join(ATTACK_NAMES)}")
    if threat is not None and not threat.is_pixels:
        pixel_only = [name for name in names if not _RECORDS[name].structured]
        if pixel_only:
            raise ValueError(f"{', '.join(pixel_only)} attack pixels only, not the {threat.name} "
                             f"threat: use {', '.join(structured_stages())}")
    return names


def structured_stages():
    """The stages that attack structured threats too."""
    return tuple(name for name, record in _RECORDS.items()
                 if record.structured and not record.is_cascade)


def stages():
    """Every single attack's record (the evaluation's per-attack columns), in table order."""
    return tuple(record for record in _RECORDS.values() if not record.is_cascade)
