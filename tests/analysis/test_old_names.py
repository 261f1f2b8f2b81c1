"""The analysis' budget names: ``iterations``, ``queries`` and ``multistep_iterations``; the old
``iters``, ``rs_queries`` and ``multistep_iters`` still work for one release as keywords,
attributes and flags (each with a ``DeprecationWarning`` naming the new one), and an
``analysis_config.json`` written under them reads back."""

import pytest
from absl import flags

from tf_fastls0.analysis.config import AnalysisConfig
from tf_fastls0.utils import settings
from tf_fastls0.utils.old_names import warn_old_flags

OLD = {"iters": ("iterations", 5), "rs_queries": ("queries", 7),
       "multistep_iters": ("multistep_iterations", 3)}


@pytest.mark.parametrize("old", sorted(OLD))
def test_an_old_keyword_and_attribute_still_work_and_warn(old):
    name, value = OLD[old]
    with pytest.warns(DeprecationWarning, match=f"AnalysisConfig\\({old}=...\\) is deprecated: "
                      f"use {name}="):
        config = AnalysisConfig(model="m", **{old: value})
    assert config == AnalysisConfig(model="m", **{name: value})
    with pytest.warns(DeprecationWarning, match=f"use {name}"):
        assert getattr(config, old) == value


def test_the_old_flags_still_work_and_warn():
    flag_values = flags.FlagValues()
    settings.define_flags(AnalysisConfig, flag_values=flag_values)
    flag_values(["analyze", "--model=m"] + [f"--{old}={value}" for old, (_, value) in OLD.items()])
    with pytest.warns(DeprecationWarning) as caught:
        warn_old_flags(AnalysisConfig, flag_values)
    assert sorted(str(w.message) for w in caught) == sorted(
        f"--{old} is deprecated: use --{name}" for old, (name, _) in OLD.items())
    assert {name: flag_values[name].value for name, _ in OLD.values()} == {
        name: value for name, value in OLD.values()}


def test_a_config_written_under_the_old_names_reads_back():
    written = {"model": ["m"], **{old: value for old, (_, value) in OLD.items()}}
    config = settings.from_dict(AnalysisConfig, written)
    assert config == AnalysisConfig(model=("m",), iterations=5, queries=7, multistep_iterations=3)
