"""``--mixed_precision=auto``, training's default: bfloat16 where the device computes it natively
(a GPU of compute capability 8.0 or newer; with no GPU, a CPU with ``amx_bf16`` or
``avx512_bf16``), float32 elsewhere; the choice and its reason at start, in ``config.json`` and
HParams; a value given wins; a resumed run keeps the precision it started with."""

import functools
import json
import os
import shutil
import sys

import pytest

from tf_fastls0.evaluation import EvalConfig
from tf_fastls0.models import precision
from tf_fastls0.training import hparams
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.run import resolve_precision, train_and_evaluate
from tf_fastls0.utils.cli import UsageError

sys.path.insert(0, os.path.dirname(__file__))
from test_resume import assert_same_final_state  # noqa: E402  (the resume tests' check)

# /proc/cpuinfo's shape: one block per logical CPU, its flags on one line.
CPUINFO = """processor\t: {n}
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu vme sse sse2 avx avx2 avx512f {extra}
bogomips\t: 4000.00

"""
NO_GPU = []


def fake_cpuinfo(tmp_path, extra_flags):
    path = tmp_path / "cpuinfo"
    path.write_text("".join(CPUINFO.format(n=n, extra=extra_flags) for n in range(2)))
    return str(path)


@pytest.mark.parametrize("extra_flags, flag", [("avx512_bf16 avx512_vnni", "avx512_bf16"),
                                               ("amx_tile amx_bf16 amx_int8", "amx_bf16")])
def test_a_cpu_with_bfloat16_instructions_trains_in_bfloat16(tmp_path, extra_flags, flag):
    choice = precision.auto_precision(fake_cpuinfo(tmp_path, extra_flags), gpu_details=NO_GPU)
    assert choice.precision == "mixed_bfloat16"
    assert flag in choice.reason


def test_a_cpu_without_them_trains_in_float32(tmp_path):
    choice = precision.auto_precision(fake_cpuinfo(tmp_path, "avx512_vnni"), gpu_details=NO_GPU)
    assert choice.precision == "off"
    assert "neither amx_bf16 nor avx512_bf16" in choice.reason


def test_an_unreadable_cpuinfo_trains_in_float32_saying_so(tmp_path):
    missing = str(tmp_path / "no_cpuinfo")
    choice = precision.auto_precision(missing, gpu_details=NO_GPU)
    assert choice.precision == "off" and missing in choice.reason


@pytest.mark.parametrize("capabilities, expected", [
    ([(7, 5)], "off"),
    ([(8, 0)], "mixed_bfloat16"),
    ([(9, 0)], "mixed_bfloat16"),
    ([(8, 0), (7, 0)], "off"),  # a mirrored run computes on every GPU: the oldest decides
])
def test_a_gpu_decides_by_its_compute_capability(tmp_path, capabilities, expected):
    # the GPU computes, not the CPU: its flags do not count
    cpuinfo = fake_cpuinfo(tmp_path, "avx512_bf16" if expected == "off" else "")
    details = [{"compute_capability": capability, "device_name": "GPU"}
               for capability in capabilities]
    choice = precision.auto_precision(cpuinfo, gpu_details=details)
    assert choice.precision == expected
    assert "compute capability " + ".".join(map(str, min(capabilities))) in choice.reason


def test_training_defaults_to_auto_and_evaluation_to_float32():
    assert TrainConfig().mixed_precision == "auto"
    assert EvalConfig(model="run").mixed_precision == "off"
    with pytest.raises(UsageError, match="--mixed_precision=auto: choose one of off"):
        EvalConfig(model="run", mixed_precision="auto")  # a figure must not depend on the CPU


@pytest.fixture
def auto_picks(monkeypatch, tmp_path):
    """``auto_picks(flags)``: this process' ``auto`` reads a fake /proc/cpuinfo with ``flags``
    and no GPU."""
    def pick(extra_flags):
        monkeypatch.setattr(precision, "auto_precision", functools.partial(
            precision.auto_precision, fake_cpuinfo(tmp_path, extra_flags), gpu_details=NO_GPU))

    return pick


def test_a_value_given_wins_over_auto(auto_picks):
    auto_picks("avx512_bf16")
    assert resolve_precision(TrainConfig()).mixed_precision == "mixed_bfloat16"
    given = resolve_precision(TrainConfig(mixed_precision="off"))
    assert (given.mixed_precision, given.mixed_precision_reason) == ("off", "given")
    auto_picks("")
    given = resolve_precision(TrainConfig(mixed_precision="mixed_bfloat16"))
    assert given.mixed_precision == "mixed_bfloat16"


def read_config(folder):
    with open(folder / "config.json") as handle:
        return json.load(handle)


def test_a_run_says_what_auto_chose_and_why_at_start_in_config_json_and_hparams(
        auto_picks, tiny_config, tmp_path, capsys):
    auto_picks("avx2")  # float32: the cheaper run
    config = tiny_config(tmp_path / "run", mixed_precision="auto", epochs=1)
    train_and_evaluate(config)
    reason = "auto: the CPU has neither amx_bf16 nor avx512_bf16: bfloat16 would be emulated, " \
             "about 10x slower"
    assert f"mixed precision: off ({reason})\n" in capsys.readouterr().out
    written = read_config(tmp_path / "run")
    assert (written["mixed_precision"], written["mixed_precision_reason"]) == ("off", reason)
    logged = hparams.logged_settings(TrainConfig.from_dict(written))
    assert (logged["mixed_precision"], logged["mixed_precision_reason"]) == ("off", reason)


def stop_at_step_2(run):
    """The run as if killed after its step-2 checkpoint."""
    for path in [run / "summary.json", run / "model.keras",
                 *(run / "checkpoints").glob("ckpt-[34].*")]:
        path.unlink()
    shutil.rmtree(run / "saved_model")
    (run / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-2"\n')
    return run


def test_a_resumed_run_keeps_the_precision_it_started_with(auto_picks, copy_run, tiny_config,
                                                           finished_tiny_run, capsys):
    stopped = stop_at_step_2(copy_run())  # a float32 run ("off" given)
    auto_picks("avx512_bf16")  # today auto would pick bfloat16
    train_and_evaluate(tiny_config(stopped, mixed_precision="auto"))
    assert "mixed precision: off (kept from the run's start: given)" in capsys.readouterr().out
    assert read_config(stopped)["mixed_precision"] == "off"
    assert_same_final_state(finished_tiny_run, stopped, step=4)  # float32 to the bit


@pytest.mark.parametrize("old_keys, reason", [
    ({"mixed_precision": "off"}, "given"),  # written before auto existed
    ({}, "the run predates --mixed_precision"),  # written before --mixed_precision existed
])
def test_an_old_config_json_resumes_in_float32(auto_picks, copy_run, tiny_config, capsys,
                                               old_keys, reason):
    run = copy_run()
    written = read_config(run)
    del written["mixed_precision"], written["mixed_precision_reason"]
    (run / "config.json").write_text(json.dumps({**written, **old_keys}))
    auto_picks("amx_bf16")
    train_and_evaluate(tiny_config(run, mixed_precision="auto"))  # finished: nothing to train
    out = capsys.readouterr().out
    assert f"mixed precision: off (kept from the run's start: {reason})" in out
    assert "already holds a finished run" in out
    assert read_config(run)["mixed_precision"] == "off"


def test_asking_another_precision_of_a_started_run_is_refused(copy_run, tiny_config):
    with pytest.raises(UsageError, match=r"other settings \(mixed_precision\)"):
        train_and_evaluate(tiny_config(copy_run(), mixed_precision="mixed_bfloat16"))
