"""The budget's old names (``iters``, ``rs_queries``) still work for one release, as keywords,
attributes and flags of the evaluation, each with a ``DeprecationWarning`` naming the new one."""

import json

import pytest

from tf_fastls0.evaluation import EvalConfig


def test_the_old_keywords_build_the_same_config_and_warn():
    with pytest.warns(DeprecationWarning, match="use iterations="):
        old = EvalConfig(model="m", iters=7, queries=9)
    with pytest.warns(DeprecationWarning, match="use queries="):
        assert EvalConfig(model="m", iterations=7, rs_queries=9) == old
    assert old == EvalConfig(model="m", iterations=7, queries=9)
    with pytest.warns(DeprecationWarning, match="EvalConfig.iters is deprecated: use iterations"):
        assert old.iters == 7


def test_a_keyword_under_both_names_is_refused():
    with pytest.raises(TypeError, match="give iterations= only"), pytest.warns(DeprecationWarning):
        EvalConfig(model="m", iters=7, iterations=8)


def test_the_old_flags_still_work_and_warn(tiny_run, run_module, tmp_path):
    result = run_module("tf_fastls0.evaluate", f"--model={tiny_run / 'saved_model'}",
                        "--attacks=saa", "--eps=4", "--iters=2", "--rs_queries=3",
                        "--n_examples=4", "--batch_size=4", "--noprogress",
                        f"--output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "warning: --iters is deprecated; use --iterations" in result.stderr
    assert "warning: --rs_queries is deprecated; use --queries" in result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["budget"] == {"iterations": 2, "queries": 3, "patience": 3}
    assert report["settings"]["iterations"] == 2 and "iters" not in report["settings"]
