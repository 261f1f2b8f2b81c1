"""A config field's old names (``setting(old_names=...)``) kept working for one release.

Three ways a user meets an old name, each with a ``DeprecationWarning`` naming the new spelling:
a keyword (``EvalConfig(iters=100)`` builds ``EvalConfig(iterations=100)``), an attribute
(``config.iters`` reads ``config.iterations``), both by ``keeps_old_names``; and a flag (absl
aliases of the new flag, ``settings.define_flags``), by ``warn_old_flags``. An old ``config.json``
or report key is read silently (``settings.from_dict``, ``renamed_keys``).
"""

import dataclasses
import functools
import warnings

from absl import flags

from tf_fastls0.utils.settings import rule_of


def old_names_of(config_class):
    """``{old name: field name}`` of ``config_class``'s own fields."""
    return {old: field.name for field in dataclasses.fields(config_class)
            if rule_of(field) is not None for old in rule_of(field).old_names}


def keeps_old_names(config_class):
    """Class decorator (outside ``@dataclass``): the old names still work as keywords and
    attributes, with a ``DeprecationWarning``."""
    renamed = old_names_of(config_class)
    init = config_class.__init__

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        for old, name in renamed.items():
            if old in kwargs:
                _warn(f"{config_class.__name__}({old}=...)", f"{name}=", stacklevel=3)
                if name in kwargs:
                    raise TypeError(f"{config_class.__name__}: give {name}= only ({old}= is its "
                                    "old name)")
                kwargs[name] = kwargs.pop(old)
        init(self, *args, **kwargs)

    config_class.__init__ = __init__
    for old, name in renamed.items():
        setattr(config_class, old, property(functools.partial(_old_attribute, old=old, name=name)))
    return config_class


def _old_attribute(config, old, name):
    _warn(f"{type(config).__name__}.{old}", name, stacklevel=3)
    return getattr(config, name)


def renamed_keys(config_class, values):
    """``values`` (a dict written under old names, as a report's settings) with each old key of
    ``config_class`` under its new name, where the new one is absent."""
    values = dict(values)
    for old, name in old_names_of(config_class).items():
        if old in values and name not in values:
            values[name] = values.pop(old)
    return values


def warn_old_flags(renamed, flag_values=flags.FLAGS):
    """A ``DeprecationWarning`` for each old flag name given on the command line: ``renamed`` is
    a config class (its fields' old names) or ``{old flag: new flag}`` (absl aliases). Call it
    from the command's ``main`` (the warning is shown for ``__main__``)."""
    if dataclasses.is_dataclass(renamed):
        renamed = old_names_of(renamed)
    for old, name in renamed.items():
        if old in flag_values and flag_values[old].present:
            _warn(f"--{old}", f"--{name}", stacklevel=3)


def _warn(old, new, stacklevel):
    warnings.warn(f"{old} is deprecated: use {new}", DeprecationWarning, stacklevel=stacklevel)
