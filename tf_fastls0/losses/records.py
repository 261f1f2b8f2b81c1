"""What an objective or a step add-on declares about itself, in one record in its own module.

An ``Objective`` (``objectives.OBJECTIVES`` holds them by name) is its function, what it reads,
its coefficients (a small frozen dataclass whose fields are ``setting(...)``s: the defaults are
written there once, and ``TrainConfig``, its absl flags, ``config.json`` and HParams take them from
there), its display name and the names its two logged terms go by. An ``AddOn``
(``training/methods.ADD_ONS``: N-FGSM noise, self-adaptive soft labels, GradAlign, Fast-BAT,
AWP, N-LAP, ATTA) is its settings, the other settings it reads, the names it logs and its hooks:
what it does at each point of a training step (``training/recipe.py`` calls them). Which
settings a method reads is the union of its records' (``training/method_settings.py``).

The settings dataclass of a record named ``name`` is the ``TrainConfig`` field ``name``
(``config.mart.beta``); its fields keep their flat keys (``Rule.key``: ``--mart_beta``, and
``mart_beta`` in an old ``config.json``, in HParams and in fingerprints).
"""

import dataclasses
import functools
import inspect
from typing import Any, Callable, Optional

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
    (NuAT's ramp length, from the epochs). ``reads``: the run's other settings the step reads
    for it (their flat keys: sTRADES' attack loss, ``trades_mode``).
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
    reads: tuple = ()

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
    """A step add-on: what it declares and the hooks by which it takes part in a step.

    A run has an add-on when its method lists it (``methods.Method.add_ons``) or, for an add-on
    with a ``switch``, when the run's setting ``switch_setting`` holds that value (``--awp_enabled``,
    ``--nfgsm_noise``, ``--soft_labels=self_adaptive``), for any adversarial method.

    What it declares: ``settings``, the frozen dataclass of its settings (the ``TrainConfig``
    field ``name``; None: it has none); ``reads``, the run's other settings it reads (their flat
    keys); ``log_names``, the values it logs each step; ``display_name``, in tables, figures and
    refusals; ``inert(settings)``, True where it would change nothing (a weight of 0: then left
    out, its passes not run); ``check(config)``, refuses (``UsageError``) a ``TrainConfig`` it
    cannot run with.

    Its hooks, each optional, called by the step (``training/recipe.py``) in this order, with
    ``settings`` an instance of ``self.settings`` (or None) and ``state`` what ``state`` made:

    - ``state(config, facts) -> object``: its per-example state, made once in the model's
      strategy scope (``facts``: a ``recipe.DataFacts``); its ``rows`` variable is checkpointed
      under ``checkpoint_name``;
    - ``noise(batch, settings, recipe) -> images``: the images the attack starts from (N-FGSM);
    - ``perturb_weights(network, batch, optimizer, settings)``: moves the weights before the
      attack (N-LAP); ``restore_weights(network, settings)``: after the update;
    - ``attack_start(state, batch) -> (mask, magnitude)``: where the attack starts (ATTA);
      ``last_iterate``: the objective trains on the attack's last iterate;
    - ``loss_term(network, batch, targets, settings, recipe) -> (value, logs)``: added to the
      loss inside the tape (``value``: this replica's share; ``logs``: ``{log_name: share}``);
    - ``gradients(network, optimizer, loss_at, batch, settings, norm_wanted) -> (terms, rows,
      gradients, norm)``: the loss (``loss_at(network_like, tracked)``) and its global gradients
      taken otherwise than at the weights (AWP); one add-on of a run at most;
    - ``store(state, batch)``: after the update (ATTA's last iterates).
    """

    name: str
    display_name: str
    settings: Optional[type] = None
    reads: tuple = ()
    log_names: tuple = ()
    switch: Any = None
    switch_key: Optional[str] = None  # the setting that switches it on; None: the add-on's name
    inert: Optional[Callable] = None
    check: Optional[Callable] = None
    state: Optional[Callable] = None
    checkpoint_name: Optional[str] = None
    noise: Optional[Callable] = None
    perturb_weights: Optional[Callable] = None
    restore_weights: Optional[Callable] = None
    attack_start: Optional[Callable] = None
    last_iterate: bool = False
    loss_term: Optional[Callable] = None
    gradients: Optional[Callable] = None
    store: Optional[Callable] = None

    @property
    def switch_setting(self):
        """The flat key of the setting that switches the add-on on (``awp_enabled``)."""
        return self.switch_key or self.name

    def switched_on(self, value):
        """Whether a run's setting of this add-on's name, ``value``, adds it (its old value names
        too: any value but False, None and ``"none"``)."""
        return self.switch is not None and value not in (None, False, "none")

    def is_inert(self, settings):
        return self.inert is not None and self.inert(settings)
