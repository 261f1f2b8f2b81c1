"""What one benchmark row runs: a trainer flagfile plus overrides, and the shared sAA budget.

A run is written ``NAME=FLAGFILE[:OVERRIDE;OVERRIDE...]`` (one ``--run`` flag per row), e.g.
``sparse_at_1step=configs/cifar10_sparse_at_20step.flags:--attack_iterations=1``. Overrides are
trainer flags (the leading ``--`` may be left out). The trainer's flags come in this order, later
ones winning: the run's flagfile, the table's ``--train_flag`` lines, the run's overrides, then
what the harness must decide (``--output_dir``, no end-of-training evaluation).

``check_rows`` parses every row's trainer and evaluator flags as the two commands will, before
any row runs: a wrong flag in the last row stops the table at once, naming the row.
"""

import dataclasses
import os
import re
from typing import Tuple

from absl import flags

from tf_fastls0.attacks.cornersearch import EVALUATION_IMAGES as CORNERSEARCH_IMAGES
from tf_fastls0.evaluation.budgets import QUICK
from tf_fastls0.evaluation.config import EvalConfig
from tf_fastls0.utils import settings
from tf_fastls0.utils.old_names import renamed_keys
from tf_fastls0.utils.cli import UsageError, refuse_flagfile_cycles

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Attacks the paper runs on fewer images because they are slow: each is evaluated apart, on
# ``min(n_examples, count)`` images, a subset of the other attacks' (the evaluator's seeded subsets
# are nested: both take the head of the same permutation).
FEWER_IMAGES = {"cornersearch": CORNERSEARCH_IMAGES}


@dataclasses.dataclass(frozen=True)
class RunSpec:
    name: str
    flagfile: str
    overrides: Tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class EvalBudget:
    """The Sparse-AutoAttack budget every run of a table is evaluated with (SPEC §4)."""
    eps: int = 20
    attacks: Tuple[str, ...] = ("saa",)
    iterations: int = QUICK["iterations"]
    queries: int = QUICK["queries"]
    n_examples: int = QUICK["n_examples"]
    batch_size: int = 500
    seed: int = 0
    fewer_images: Tuple[Tuple[str, int], ...] = tuple(FEWER_IMAGES.items())

    @property
    def folder_name(self):
        """The evaluation's folder inside a run folder: one per budget, so budgets never mix."""
        return (f"eval_k{self.eps}_{'+'.join(self.attacks)}_it{self.iterations}_rs{self.queries}"
                f"_n{self.n_examples}_s{self.seed}")

    def parts(self):
        """The evaluations this budget takes: one of every attack that runs on all images (this
        budget itself when nothing needs fewer images), then one per ``FEWER_IMAGES`` attack, on
        ``min(n_examples, its count in fewer_images)`` images."""
        fewer = dict(self.fewer_images)
        common = tuple(name for name in self.attacks if name not in fewer)
        parts = [dataclasses.replace(self, attacks=common)] if common else []
        parts += [dataclasses.replace(self, attacks=(name,),
                                      n_examples=min(self.n_examples, fewer[name]))
                  for name in self.attacks if name in fewer]
        return parts

    def matches(self, report):
        """Whether ``report`` (a report.json dict) is a finished evaluation at this budget."""
        settings = renamed_keys(EvalConfig, report.get("settings", {}))  # older reports too
        return bool(report.get("complete")) and all(
            settings.get(key) == value for key, value in (
                ("eps", self.eps), ("attacks", list(self.attacks)), ("iterations", self.iterations),
                ("queries", self.queries), ("n_examples_requested", self.n_examples),
                ("seed", self.seed)))


def parse_run(text):
    """``NAME=FLAGFILE[:OVERRIDE;...]`` -> ``RunSpec``; ``UsageError`` if malformed."""
    name, equals, rest = text.partition("=")
    name = name.strip()
    if not equals or not NAME_PATTERN.match(name):
        raise UsageError(f"--run={text!r}: expected NAME=FLAGFILE[:FLAG;FLAG...] with a NAME of "
                         "letters, digits, '_', '.' and '-'")
    flagfile, _, overrides = rest.partition(":")
    flagfile = flagfile.strip()
    if not flagfile:
        raise UsageError(f"--run={text!r} names no trainer flagfile")
    return RunSpec(name, flagfile, tuple(_as_flag(o) for o in overrides.split(";") if o.strip()))


def parse_runs(texts):
    specs = [parse_run(text) for text in texts]
    names = [spec.name for spec in specs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"run names must be unique; repeated: {', '.join(repeated)}")
    missing = [spec.flagfile for spec in specs if not os.path.isfile(spec.flagfile)]
    if missing:
        raise UsageError(f"trainer flagfiles not found (paths are relative to the directory you "
                         f"run from, the repository root): {', '.join(missing)}")
    return specs


def _as_flag(text):
    text = text.strip()
    return text if text.startswith("-") else f"--{text}"


def as_flags(texts):
    """``--train_flag``/``--eval_flag`` values as command-line flags."""
    return [_as_flag(text) for text in texts if text.strip()]


def run_dir(runs_dir, spec):
    return os.path.join(runs_dir, spec.name)


def trainer_argv(spec, runs_dir, train_flags):
    """The arguments of ``python -m tf_fastls0.train`` for ``spec``."""
    return ([f"--flagfile={spec.flagfile}", "--verbose=2", *train_flags, *spec.overrides,
             f"--output_dir={run_dir(runs_dir, spec)}", "--final_eval=none"])


def evaluator_argv(model_dir, output_dir, budget, eval_flags, shard=None):
    """The arguments of ``python -m tf_fastls0.evaluate``; ``shard`` = (index, count) or None."""
    argv = [f"--model={model_dir}", *eval_flags, f"--eps={budget.eps}",
            f"--attacks={','.join(budget.attacks)}", f"--iterations={budget.iterations}",
            f"--queries={budget.queries}", f"--n_examples={budget.n_examples}",
            f"--batch_size={budget.batch_size}", f"--seed={budget.seed}",
            f"--output_dir={output_dir}", "--resume", "--noprogress"]
    if shard is not None:
        argv += [f"--shard_index={shard[0]}", f"--num_shards={shard[1]}"]
    return argv


def check_rows(specs, runs_dir, train_flags, budget, eval_flags):
    """Parses each row's trainer and evaluator arguments into ``TrainConfig`` and ``EvalConfig``
    (flag parsing, every value check and combination check of the commands); ``UsageError``
    naming the first row refused and why."""
    from tf_fastls0.evaluation.config import EvalConfig
    from tf_fastls0.training.config import TrainConfig

    for spec in specs:
        problem = _refusal(TrainConfig, trainer_argv(spec, runs_dir, train_flags))
        if problem:
            raise UsageError(f"run {spec.name}: the trainer refuses its flags: {problem}")
        directory = run_dir(runs_dir, spec)
        for part in budget.parts():
            problem = _refusal(EvalConfig, evaluator_argv(
                directory, os.path.join(directory, part.folder_name), part, eval_flags))
            if problem:
                raise UsageError(f"run {spec.name}: the evaluator refuses its flags: {problem}")


def _refusal(config_class, argv):
    """Why the command of ``config_class`` would refuse ``argv`` before any work, or None."""
    flag_values = flags.FlagValues()
    settings.define_flags(config_class, flag_values=flag_values)
    try:
        refuse_flagfile_cycles(argv)
        unparsed = flag_values(["command", *argv], known_only=True)[1:]
        unknown = [arg for arg in unparsed if arg.startswith("-") and
                   _flag_name(arg) not in _COMMAND_LINE_FLAGS]
        if unknown:
            return f"unknown flag {unknown[0]}"
        settings.from_flags(config_class, flag_values)
    except flags.Error as error:
        return str(error).splitlines()[0]
    except ValueError as error:  # UsageError, DataError
        return str(error)
    return None


def _flag_name(arg):
    name = arg.lstrip("-").partition("=")[0]
    return name[2:] if name.startswith("no") and name[2:] in _COMMAND_LINE_FLAGS else name


# absl's own flags, which every command also takes (logging, debugging)
_COMMAND_LINE_FLAGS = frozenset(
    flag.name for module in ("absl.logging", "absl.app")
    for flag in flags.FLAGS.flags_by_module_dict().get(module, ()))
