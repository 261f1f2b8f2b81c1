"""Which settings a method reads, derived from its records, and the checks of a method's settings
given as Python keywords (``SparseAdversarialModel``).

A method reads the run's ``seed``; an adversarial one also what its training attack reads
(``recipe.ATTACK_READS``), its objective's record's settings and ``reads``, the switch of every
optional add-on (``--awp_enabled``, ``--nfgsm_noise``, ``--soft_labels``), and the settings and ``reads``
of each add-on it has (``losses/records.py``). The command's HParams (``hparams.py``) show a
run's method-specific settings from the same derivation.
"""

import dataclasses

from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.methods import ADD_ONS, METHODS, add_ons_of, method_named
from tf_fastls0.training.recipe import ATTACK_READS
from tf_fastls0.utils import settings as settings_lib
from tf_fastls0.utils.cli import UsageError

GENERAL_SETTINGS = ("seed",)  # read by every method


def record_keys(record):
    """The flat keys of what an objective or add-on record reads: its settings and ``reads``."""
    own = (settings_lib.setting_keys(record.settings, record.name)
           if record.settings is not None else ())
    return (*own, *record.reads)


def switches():
    """``{add-on name: the value of its setting that turns it on}`` of the optional add-ons."""
    return {record.switch_setting: record.switch for record in ADD_ONS.values()
            if record.switch is not None}


def shared_settings():
    """The settings every adversarial method reads."""
    return {*GENERAL_SETTINGS, *ATTACK_READS, *switches()}


def method_settings(method, given):
    """The keys of the settings ``method`` reads, given the optional add-ons ``given`` (its
    settings by key) switches on."""
    entry = _entry(method)
    found = set(GENERAL_SETTINGS)
    if not entry.adversarial:
        return found
    found.update(shared_settings())
    found.update(record_keys(entry.objective_record))
    for record in add_ons_of(entry, given.get):
        found.update(record_keys(record))
    return found


def every_method_setting():
    """The settings some method reads, with every optional add-on on."""
    return set().union(*(method_settings(name, switches()) for name in METHODS))


def _entry(method):
    try:
        return method_named(method)
    except KeyError:
        raise UsageError(f"method={method}: choose one of {', '.join(METHODS)}") from None


def check_settings(given):
    """``given`` (``given["method"]`` and its keywords) with old setting names renamed;
    ``UsageError`` in one line for a setting that is not one, is not the method's, or takes no
    such value. What depends on the epochs is checked when the config is made (``config_for``)."""
    given = _renamed(given)
    method = given.get("method")
    _entry(method)
    fields = _fields_by_key()
    for name, value in given.items():
        if name == "method":
            continue
        if name not in fields:
            raise UsageError(f"unknown setting {name}=; the settings are the fields of "
                             "tf_fastls0.training.config.TrainConfig")
        if name not in method_settings(method, given):
            raise UsageError(f"{name}= {_why_not(name, method)}")
        field = fields[name]
        rule = settings_lib.rule_of(field)
        if rule is not None and not dataclasses.is_dataclass(value):
            settings_lib.check_value(name, rule, field.type, value)
    return given


def config_for(given, epochs):
    """The ``TrainConfig`` of a method's settings (``given["method"]`` and its keywords) over
    ``epochs``; ``UsageError`` for a setting that is not the method's. A setting's old name
    (``sat_momentum``) is read as its name."""
    return TrainConfig(epochs=epochs, **check_settings(given))


def _renamed(given):
    """``given`` with each old setting name (``trades_beta``, ``sat_momentum``) replaced by its
    current one, with a ``DeprecationWarning`` naming it."""
    return settings_lib.renamed_keys(TrainConfig, given)


def _fields_by_key():
    """Every setting a keyword may name: the top-level fields by name, the flags by key."""
    fields = {field.name: field for field in dataclasses.fields(TrainConfig)}
    fields.update({settings_lib.key_of(field): field
                   for field in settings_lib.flag_fields(TrainConfig)})
    return fields


def _why_not(name, method):
    if name not in every_method_setting():
        return ("is a setting of the command, not of the method: give it to compile() or fit() "
                "(the optimizer, epochs, batch size), or leave it out")
    for record in ADD_ONS.values():
        if record.switch is not None and name in record_keys(record):
            return (f"does not apply: method {method!r} has no {record.display_name} (add "
                    f"{record.switch_setting}={record.switch!r})")
    return f"does not apply to method {method!r}"
