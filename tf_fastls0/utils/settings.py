"""Settings defined once: a config dataclass's fields carry their default, help text and checks,
and the absl flags of every command are generated from them.

A field is declared with ``setting(default, help, ...)``. From it come the flag
(``define_flags``), the config built from parsed flags (``from_flags``), the check of every value
a config is made with (``check_fields``, called by the dataclass's ``__post_init__``, so tests and
library users who build configs without flags get the same checks as the command line), and the
config read back from a run folder's JSON (``from_dict``). A flag may only be defined once per
process, so configs that share fields (the data settings) share their flags.

A setting's key (its flag, its flat keyword, its HParams column, its key in fingerprints) is its
field's name, or, inside a config held with ``prefix_keys`` (a method's coefficients), the holding
field's name and its own joined by ``_`` (``config.strades.beta`` is ``--strades_beta``):
``flat_key`` is that rule, the only one. A renamed setting keeps its old keys (``Rule.old_names``)
and a renamed value its old spelling (``Rule.aliases``) for one release: given as a flag or a
keyword they still work and warn (``DeprecationWarning``, and one line on stderr for a flag);
read back from an old ``config.json`` they mean the new ones, silently.
"""

import copy
import dataclasses
import inspect
import math
import sys
import types
import typing
import warnings

from absl import flags

from tf_fastls0.utils.cli import UsageError

_KEY = "tf_fastls0"
MAX_SEED = 2**32 - 1  # numpy's and Keras' seeding take 32-bit seeds


@dataclasses.dataclass(frozen=True)
class Rule:
    """How a field becomes a flag and which values it takes."""

    help: str
    choices: tuple = ()
    aliases: dict = dataclasses.field(default_factory=dict)  # old name of a value -> name
    # The setting's own old keys: still accepted as flags and keywords (with a warning), and read
    # back from an old config.json (silently).
    old_names: tuple = ()
    # Inside a nested config: the field's old name there (an old config.json's nested dict).
    old_field_names: tuple = ()
    lower: typing.Optional[float] = None
    upper: typing.Optional[float] = None
    flag: bool = True  # False: set by the program, not by a flag
    overrides_of: typing.Optional[type] = None  # holds (name, value) pairs of the given flags
    changes_results: bool = True  # False: where output goes, how it shows, how long a session runs
    # On a nested config whose fields were once the parent's own (the threat settings): they keep
    # their top-level keys in HParams and fingerprints, and an old config.json's are read back.
    flat_keys: bool = False
    # On a ``flat_keys`` config: its fields' keys are prefixed with this field's name
    # (``config.mart.beta`` is ``--mart_beta``; ``flat_key``).
    prefix_keys: bool = False
    # Set by ``flag_fields`` on a nested field as its parent sees it (its flat key); never by hand.
    key: typing.Optional[str] = None
    # The value names a file the results depend on (a group map): its content is hashed into
    # what a resumed run or a merged shard must match (``input_file_hashes``).
    input_file: bool = False
    # What an old config.json without this key meant, where that differs from today's default:
    # a run from before the setting resumes, evaluates and analyses as it was trained.
    absent_means: typing.Any = None  # None: today's default


def setting(default=dataclasses.MISSING, help="", **rule):
    """A config field with its default, its help text and its checks (see ``Rule``)."""
    kwargs = {"metadata": {_KEY: Rule(help=help, **rule)}}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple for a sequence default")
    if default is not dataclasses.MISSING:
        kwargs["default"] = default
    return dataclasses.field(**kwargs)


def rule_of(field):
    return field.metadata.get(_KEY)


def _nested_config(field):
    """The dataclass type a field holds (``DataConfig``, ``Optional[DataConfig]``), else None."""
    kind = _unwrap_optional(field.type)
    return kind if dataclasses.is_dataclass(kind) else None


def _unwrap_optional(kind):
    if typing.get_origin(kind) is typing.Union:
        kinds = [k for k in typing.get_args(kind) if k is not type(None)]
        return kinds[0]
    return kind


def flat_key(prefix, name):
    """The key of setting ``name`` of a config held with ``prefix_keys`` under the field
    ``prefix`` (``mart``, ``beta`` -> ``mart_beta``); ``name`` itself without a prefix."""
    return f"{prefix}_{name}" if prefix else name


def key_of(field, prefix=""):
    """The field's flag name and flat key (``flat_key``; a field from ``flag_fields`` knows its
    prefix)."""
    rule = rule_of(field)
    return rule.key if rule is not None and rule.key else flat_key(prefix, field.name)


def setting_keys(config_class, prefix=""):
    """The flat keys (flag names) of ``config_class``'s own fields, held under ``prefix`` (the
    field of a ``prefix_keys`` config: ``setting_keys(AwpSettings, "awp")``)."""
    return tuple(key_of(field, prefix) for field in dataclasses.fields(config_class))


def _has_flat_keys(field):
    rule = rule_of(field)
    return rule is not None and rule.flat_keys


def _child_prefix(field, prefix):
    """The key prefix of the fields of the config ``field`` holds."""
    rule = rule_of(field)
    if rule is not None and rule.prefix_keys:
        return flat_key(prefix, field.name)
    return prefix if _has_flat_keys(field) else ""


def _keyed(field, prefix):
    """``field`` as its parent config sees it: with its flat key in its rule."""
    if not prefix:
        return field
    keyed = copy.copy(field)
    keyed.metadata = types.MappingProxyType(
        {**field.metadata, _KEY: dataclasses.replace(rule_of(field), key=key_of(field, prefix))})
    return keyed


def _is_sequence(kind):
    return typing.get_origin(_unwrap_optional(kind)) in (tuple, list)


def flag_fields(config_class, only=None, prefix=""):
    """The fields of ``config_class`` (and of configs nested in it) that are flags, in order;
    ``key_of`` gives each one's flag name."""
    for field in dataclasses.fields(config_class):
        nested = _nested_config(field)
        rule = rule_of(field)
        if rule is not None and not rule.flag:
            continue
        if nested is not None:
            yield from flag_fields(nested, only, _child_prefix(field, prefix))
        elif rule is not None and rule.overrides_of is not None:
            yield from flag_fields(rule.overrides_of, only)
        elif rule is not None and rule.flag and (only is None or key_of(field, prefix) in only):
            yield _keyed(field, prefix)


# ---------------------------------------------------------------------------------------------
# Checks


def check_value(name, rule, kind, value):
    """Raises ``UsageError`` naming ``--name`` when ``value`` breaks its rule."""
    problem = value_problem(rule, kind, value)
    if problem:
        raise UsageError(f"--{name}={_shown(value)}: {problem}")


def value_problem(rule, kind, value):
    """What is wrong with ``value`` under ``rule``, or None."""
    if value is None:
        return None
    for item in value if _is_sequence(kind) else (value,):
        problem = _item_problem(rule, item)
        if problem:
            return problem
    return None


def _item_problem(rule, value):
    if rule.choices and value not in rule.choices and value not in rule.aliases:
        return f"choose one of {', '.join(map(str, rule.choices))}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if rule.lower is not None and value < rule.lower:
        return f"must be at least {_bound(rule.lower)}"
    if rule.upper is not None and value > rule.upper:
        return f"must be at most {_bound(rule.upper)}"
    return None


def _bound(value):
    return str(value) if isinstance(value, int) else f"{value:g}"


def _shown(value):
    return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else value


def check_fields(config, prefix=""):
    """Checks every field of ``config`` against its rule; returns the value of each renamed
    choice under its current name (``{"method": "sparse_at"}`` for ``method="sat"``)."""
    renamed = {}
    for field in dataclasses.fields(config):
        rule, value = rule_of(field), getattr(config, field.name)
        if rule is None or _nested_config(field) is not None or rule.overrides_of:
            continue
        check_value(key_of(field, prefix), rule, field.type, value)
        if rule.aliases and value in rule.aliases:
            renamed[field.name] = rule.aliases[value]
    return renamed


def normalise(config, prefix=""):
    """``__post_init__`` helper of a frozen config: checks it (and the ``prefix_keys`` configs it
    holds, which have no checks of their own) and renames old choice names, with a warning."""
    for name, value in check_fields(config, prefix).items():
        key = key_of(next(f for f in dataclasses.fields(config) if f.name == name), prefix)
        deprecated(f"{key}={getattr(config, name)!r} is deprecated; use {key}={value!r}",
                   stacklevel=5)  # the caller of TrainConfig(...)
        object.__setattr__(config, name, value)
    for field in dataclasses.fields(config):
        rule = rule_of(field)
        if rule is not None and rule.prefix_keys and getattr(config, field.name) is not None:
            normalise(getattr(config, field.name), _child_prefix(field, prefix))


def deprecated(message, stacklevel=2, flag=False):
    """A ``DeprecationWarning`` attributed to the caller ``stacklevel`` frames up; for a flag,
    attributed here and said once on stderr instead, where a command-line user sees it (Python
    shows a ``DeprecationWarning`` only when ``__main__`` is its caller)."""
    if flag:
        warnings.warn(message, DeprecationWarning, stacklevel=1)
        print(f"warning: {message}", file=sys.stderr)
    else:
        warnings.warn(message, DeprecationWarning, stacklevel=stacklevel + 1)


# ---------------------------------------------------------------------------------------------
# Flags


def define_flags(config_class, only=None, flag_values=flags.FLAGS):
    """Defines an absl flag for every flag field of ``config_class`` (``only``: these names).

    Flags already defined (the data flags, shared by configs) are left as they are. Returns the
    names of the flags of ``config_class``. The flags count as this module's key flags: a command
    adopts them (``flags.adopt_module_key_flags(settings)``) so that ``--helpshort`` lists them.
    """
    names = []
    for field in flag_fields(config_class, only):
        names.append(key_of(field))
        if key_of(field) not in flag_values:
            _define_flag(field, flag_values)
            for old_name in rule_of(field).old_names:
                flags.DEFINE_alias(old_name, key_of(field), flag_values=flag_values)
    return names


def _define_flag(field, flag_values):
    rule, name = rule_of(field), key_of(field)
    default = None if field.default is dataclasses.MISSING else field.default
    kind = _unwrap_optional(field.type)
    help_text = rule.help + _alias_note(rule) + _old_names_note(rule)
    common = {"flag_values": flag_values}
    if _is_sequence(field.type):
        flags.DEFINE_list(name, list(default) if default is not None else None, help_text,
                          **common)
    elif kind is bool:
        flags.DEFINE_boolean(name, default, help_text, **common)
    elif rule.choices:
        choices = tuple(rule.choices) + tuple(rule.aliases)
        flags.DEFINE_enum(name, default, choices, help_text, **common)
    elif kind is int:
        flags.DEFINE_integer(name, default, help_text, **common)
    elif kind is float:
        flags.DEFINE_float(name, default, help_text, **common)
    else:
        flags.DEFINE_string(name, default, help_text, **common)
    flags.register_validator(name, lambda value, f=field: _valid(f, value),
                             flag_values=flag_values)
    if field.default is dataclasses.MISSING:
        flags.mark_flag_as_required(name, flag_values=flag_values)


def _valid(field, value):
    problem = value_problem(rule_of(field), field.type, value)
    if problem:
        raise flags.ValidationError(problem)
    return True


def _alias_note(rule):
    if not rule.aliases:
        return ""
    old = ", ".join(f"{alias} = {name}" for alias, name in rule.aliases.items())
    return f" (deprecated old names, still accepted for one release: {old})"


def _old_names_note(rule):
    if not rule.old_names:
        return ""
    return f" (formerly --{', --'.join(rule.old_names)}: deprecated, still accepted for one " \
        "release)"


def from_flags(config_class, flag_values=flags.FLAGS, prefix="", **given):
    """The config ``config_class`` made from parsed flags; ``given`` fields are set directly.

    A nested config that is ``Optional`` is None unless one of its flags was given on the command
    line (the command then uses, say, the data settings of the run it reads); a field with
    ``overrides_of`` holds the (name, value) pairs of the given flags of that config. A flag
    given by its old name, or a value by its old spelling, warns (``deprecated``).
    """
    values = {}
    for field in dataclasses.fields(config_class):
        rule = rule_of(field)
        if field.name in given:
            values[field.name] = given[field.name]
        elif rule is not None and not rule.flag:
            continue
        elif _nested_config(field) is not None:
            values[field.name] = _nested_from_flags(field, flag_values,
                                                    _child_prefix(field, prefix))
        elif rule is not None and rule.overrides_of is not None:
            values[field.name] = tuple(
                (f.name, flag_values[key_of(f)].value) for f in flag_fields(rule.overrides_of)
                if flag_values[key_of(f)].present)
        elif rule is not None and rule.flag:
            value = _flag_value(field, key_of(field, prefix), flag_values)
            values[field.name] = tuple(value) if _is_sequence(field.type) and value is not None \
                else value
    return config_class(**values)


def _flag_value(field, name, flag_values):
    """The value of the field's flag ``name``, warning where it was given by an old name or an
    old spelling of its value (then read as the current one)."""
    rule, value = rule_of(field), flag_values[name].value
    for old_name in rule.old_names:
        if old_name in flag_values and flag_values[old_name].present:
            deprecated(f"--{old_name} is deprecated; use --{name}", flag=True)
    if rule.aliases and flag_values[name].present:
        renamed = tuple(rule.aliases.get(item, item) for item in value) \
            if _is_sequence(field.type) and value is not None else rule.aliases.get(value, value)
        if renamed != (tuple(value) if isinstance(value, list) else value):
            deprecated(f"--{name}={_shown(value)} is deprecated; use --{name}={_shown(renamed)}",
                       flag=True)
            value = renamed
    return value


def _nested_from_flags(field, flag_values, prefix):
    nested = _nested_config(field)
    optional = _unwrap_optional(field.type) is not field.type
    if optional and not any(flag_values[key_of(f)].present for f in flag_fields(nested, None,
                                                                                   prefix)):
        return None
    return from_flags(nested, flag_values, prefix)


# ---------------------------------------------------------------------------------------------
# JSON


def to_dict(config):
    return dataclasses.asdict(config)


def from_dict(config_class, values, prefix=""):
    """The config written as ``values`` (a run folder's ``config.json``); unknown keys, from
    older or newer versions, are ignored, and missing ones take today's defaults. Old keys and
    old spellings of values are read as today's, silently: the run means what it meant."""
    known = {}
    for field in dataclasses.fields(config_class):
        if _has_flat_keys(field) and not isinstance(values.get(field.name), dict):
            values = {**values, field.name: _flat_keys_of(
                _nested_config(field), values, _child_prefix(field, prefix))}
        old_name = next((name for name in _old_names(field) if name in values), None)
        if field.name not in values and old_name is not None:
            values = {**values, field.name: values[old_name]}
        if field.name not in values:
            absent = getattr(rule_of(field), "absent_means", None)
            if absent is not None:
                known[field.name] = absent
            continue
        value, nested = values[field.name], _nested_config(field)
        if nested is not None and value is not None:
            value = from_dict(nested, value, _child_prefix(field, prefix))
        elif _is_sequence(field.type) and value is not None:
            value = tuple(_current_value(field, tuple(v) if isinstance(v, list) else v)
                          for v in value)
        else:
            value = _current_value(field, value)
        known[field.name] = value
    return config_class(**known)


def _current_value(field, value):
    """``value`` under its current spelling (an old one renamed, ``Rule.aliases``)."""
    rule = rule_of(field)
    if rule is None or not rule.aliases:
        return value
    try:
        return rule.aliases.get(value, value)
    except TypeError:  # not hashable: no old spelling
        return value


def _old_names(field):
    """The names the field went by in a config.json: its old keys, its old names in its config."""
    rule = rule_of(field)
    return (*rule.old_names, *rule.old_field_names) if rule is not None else ()


def _flat_keys_of(nested, values, prefix):
    """The fields of ``nested`` written at the top level of ``values`` (before it was nested;
    a key may be the nested config's own name: ``label_smoothing``, once the factor itself)."""
    found = {}
    for field in dataclasses.fields(nested):
        key = next((name for name in (key_of(field, prefix), *rule_of(field).old_names)
                    if name in values), None)
        if key is not None:
            found[field.name] = values[key]
    return found


def renamed_keys(config_class, values):
    """``values`` (a config's keywords, flat keys allowed) with each old key (``Rule.old_names``:
    ``trades_beta``, ``attack_steps``) replaced by its current one, with a warning."""
    current = {old: key_of(field) for field in flag_fields(config_class)
               for old in rule_of(field).old_names}
    current.update({old: field.name for field in dataclasses.fields(config_class)
                    if rule_of(field) is not None
                    for old in (*rule_of(field).old_names, *rule_of(field).old_field_names)})
    fields = {field.name for field in dataclasses.fields(config_class)}
    renamed = {}
    for name, value in values.items():
        # ``label_smoothing``: once the factor, now the field holding it
        its_field = name in fields and dataclasses.is_dataclass(value)
        if name in current and current[name] not in values and not its_field:
            deprecated(f"{name}= is deprecated; use {current[name]}=", stacklevel=4)
            name = current[name]
        renamed[name] = value
    return renamed


def nest_flat_keys(config_class, values):
    """``values`` (a config's constructor keywords) with the flat keys of its ``flat_keys``
    configs (``mart_beta=3.0``) moved into them (``mart=MartSettings(beta=3.0)``); an old key
    (``trades_beta=``) works and warns."""
    values = renamed_keys(config_class, values)
    for field in dataclasses.fields(config_class):
        if not _has_flat_keys(field):
            continue
        nested, prefix = _nested_config(field), _child_prefix(field, "")
        flat = {f.name: values.pop(key_of(f, prefix)) for f in dataclasses.fields(nested)
                if key_of(f, prefix) in values
                and not dataclasses.is_dataclass(values[key_of(f, prefix)])}
        if flat:
            base = values.get(field.name, field.default)
            values[field.name] = dataclasses.replace(base, **flat)
    return values


def accepts_flat_keys(config_class):
    """Class decorator: the config is also made with the flat keys of its ``flat_keys`` configs
    (``TrainConfig(mart_beta=3.0)``, as before they were nested) and, with a warning, with the
    old keys of its settings (``attack_steps=``)."""
    made = config_class.__init__

    def __init__(self, **values):
        made(self, **nest_flat_keys(config_class, values))

    __init__.__doc__ = made.__doc__
    __init__.__signature__ = inspect.signature(made)
    config_class.__init__ = __init__
    return config_class


def moved_attribute(config, name):
    """The value an old attribute name of ``config`` stands for (a setting renamed,
    ``attack_steps``, or moved into a ``flat_keys`` config, ``val_robust_examples``), with a
    warning; ``AttributeError`` for any other name. A config's ``__getattr__`` calls it."""
    path = None if name.startswith("_") else _attribute_path(type(config), name)
    if path is None:
        raise AttributeError(f"{type(config).__name__!r} object has no attribute {name!r}")
    deprecated(f"{type(config).__name__}.{name} is deprecated; use .{'.'.join(path)}",
               stacklevel=3)
    value = config
    for part in path:
        value = getattr(value, part)
    return value


def _attribute_path(config_class, name):
    """The fields that lead from ``config_class`` to the setting once its attribute ``name``."""
    for field in dataclasses.fields(config_class):
        rule, nested = rule_of(field), _nested_config(field)
        if rule is None:
            continue
        if nested is None and name in rule.old_names:
            return (field.name,)
        if nested is not None and rule.flat_keys and not rule.prefix_keys:
            if name in {f.name for f in dataclasses.fields(nested)}:
                return (field.name, name)
            inner = _attribute_path(nested, name)
            if inner is not None:
                return (field.name, *inner)
    return None


def default_of(config_class, name):
    """The default of field ``name``: where another command falls back on a trainer setting."""
    return next(f.default for f in dataclasses.fields(config_class) if f.name == name)


def result_settings(config, prefix=""):
    """The fields that change what a run computes (a resumed run must match them) by their
    keys, nested configs as dicts of theirs."""
    found = {}
    for field in dataclasses.fields(config):
        value, rule = getattr(config, field.name), rule_of(field)
        if rule is not None and not rule.changes_results:
            continue
        if _has_flat_keys(field):
            found.update(result_settings(value, _child_prefix(field, prefix)))
        elif _nested_config(field) is not None:
            found[field.name] = result_settings(value) if value is not None else None
        elif rule is not None:
            found[key_of(field, prefix)] = value
    return found


def input_file_hashes(config):
    """``{"<field>_sha256": sha256 of the file's bytes}`` for every set ``input_file`` field of
    ``config`` and of the configs nested in it: a file rewritten in place (same path, other
    content) changes what a run computes. A file that cannot be read hashes as None (its reader
    says why)."""
    found = {}
    for field in dataclasses.fields(config):
        value, rule = getattr(config, field.name), rule_of(field)
        if _nested_config(field) is not None:
            if value is not None:
                found.update(input_file_hashes(value))
        elif rule is not None and rule.input_file and value:
            found[f"{field.name}_sha256"] = file_sha256(value)
    return found


def file_sha256(path):
    """The sha256 of the file's bytes, or None if it cannot be read."""
    import hashlib

    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def flat_dict(config, prefix="", results_only=False, key_prefix=""):
    """``{"data.dataset": ..., "epochs": ..., "threat": ..., "mart_beta": ...}``: every leaf
    value, for TensorBoard's HParams (a ``flat_keys`` config's fields by their keys); with
    ``results_only``, only the settings that change results."""
    flat = {}
    for field in dataclasses.fields(config):
        value, rule = getattr(config, field.name), rule_of(field)
        if results_only and rule is not None and not rule.changes_results:
            continue
        if _nested_config(field) is not None and value is not None:
            inner = prefix if _has_flat_keys(field) else f"{prefix}{field.name}."
            flat.update(flat_dict(value, prefix=inner, results_only=results_only,
                                  key_prefix=_child_prefix(field, key_prefix)))
        else:
            flat[f"{prefix}{key_of(field, key_prefix)}"] = value
    return flat
