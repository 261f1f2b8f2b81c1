"""What an objective or a step add-on declares about itself, in one record in its own module.

An ``Objective`` (``objectives.OBJECTIVES`` holds them by name) is its function, what it reads,
its coefficients (a small frozen dataclass whose fields are ``setting(...)``s: the defaults are
written there once, and ``TrainConfig``, its absl flags, ``config.json`` and HParams take them from
there), its display name and the names its two logged terms go by. An ``AddOn``
(``training/methods.ADD_ONS``: GradAlign, Fast-BAT, AWP, N-LAP, ATTA) is its settings and the
names it logs; the recipe and the trainer call what it does.

The settings dataclass of a record named ``name`` is the ``TrainConfig`` field ``name``
(``config.mart.beta``); its fields keep their flat keys (``Rule.key``: ``--mart_beta``, and
``mart_beta`` in an old ``config.json``, in HParams and in fingerprints).
"""

import dataclasses
import functools
import inspect
from typing import Callable, Optional

CLEAN_AND_ADVERSARIAL_LOSS = ("clean_loss", "adversarial_loss")


@dataclasses.dataclass(frozen=True)
class Objective:
    """A training objective (SPEC section 5, or a Table 6 baseline).

    ``function(clean_logits, adv_logits, targets, **coefficients)`` returns ``ObjectiveTerms``
    (``terms.py``). ``reads_clean``: the training-mode logits of the clean (noisy) images are
    computed and given (else ``clean_logits`` are the inference ones or None);
    ``reads_adversarial``: the batch is attacked and its logits given. ``settings``: the frozen
    dataclass of its coefficients (None: it has none); the fields the function takes as keywords
    are passed to it, the others are read by ``ramp``. ``ramp(epoch, settings)``: the fraction of
    the regulariser's weight in that epoch, passed as ``ramp_fraction``. ``last_iterate``: trained
    on the attack's last iterate, not sPGD's best input. ``clean_at_start``: the training-mode
    "clean" logits are taken at the attack's start (sPGD's ``start``), not at the image; they are
    then also what the soft labels move toward and what ``accuracy`` scores. ``log_names``: the
    names its terms ``clean`` and ``adversarial`` are logged under; ``diagnostics``: the names of
    the values its ``ObjectiveTerms.diagnostics`` logs each step. ``resolve(settings, config)``:
    its settings with the defaults that depend on the rest of the ``TrainConfig`` filled in
    (NuAT's ramp length, from the epochs).
    """

    name: str
    function: Callable
    display_name: str
    reads_clean: bool
    reads_adversarial: bool = True
    settings: Optional[type] = None
    ramp: Optional[Callable] = None
    last_iterate: bool = False
    clean_at_start: bool = False
    log_names: tuple = CLEAN_AND_ADVERSARIAL_LOSS
    diagnostics: tuple = ()
    resolve: Optional[Callable] = None

    def __call__(self, *args, **kwargs):
        """The objective itself: ``function(clean_logits, adv_logits, targets, **coefficients)``."""
        return self.function(*args, **kwargs)

    def coefficients(self, settings=None):
        """The function's keyword arguments from ``settings`` (an instance of ``self.settings``;
        its defaults if None)."""
        if self.settings is None:
            return {}
        settings = self.settings() if settings is None else settings
        taken = inspect.signature(self.function).parameters
        return {field.name: getattr(settings, field.name)
                for field in dataclasses.fields(settings) if field.name in taken}

    def bound(self, settings=None):
        """``(clean_logits, adv_logits, targets[, ramp_fraction]) -> ObjectiveTerms`` with the
        coefficients of ``settings``."""
        return functools.partial(self.function, **self.coefficients(settings))


@dataclasses.dataclass(frozen=True)
class AddOn:
    """A step add-on a method may imply (``methods.Method.add_ons``) or a flag may turn on.

    ``settings``: the frozen dataclass of its settings (the ``TrainConfig`` field ``name``);
    ``log_names``: the values it logs each step; ``display_name``: in tables and figures.
    """

    name: str
    settings: type
    display_name: str
    log_names: tuple = ()
