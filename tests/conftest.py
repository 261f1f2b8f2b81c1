"""Shared test settings: quiet TensorFlow, the repository root, the shared CIFAR-10 folder, and
``built_once`` for the costly folders every pytest-xdist worker would otherwise build again."""

import collections
import datetime
import fcntl
import importlib.util
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

import tf_fastls0  # noqa: E402,F401  (before TensorFlow: oneDNN's CPU kernels, as the commands)

REPO = pathlib.Path(__file__).resolve().parent.parent
# A git worktree sits one folder deeper than the main checkout: CIFAR10_JPEG_DIR points there.
CIFAR10_JPEG = pathlib.Path(os.environ.get("CIFAR10_JPEG_DIR",
                                           REPO.parent / "shared" / "data" / "cifar10-jpeg"))


# The committed per-test durations (``--record_durations``; README quotes them): their per-file
# times order the files, slowest first, so that ``-n 2 --dist loadfile``, which hands whole files
# to the two workers in collection order, never leaves one worker on a long file at the end
# while the other idles.
DURATIONS = REPO / "tests" / "durations"


def _recorded_file_seconds():
    seconds = {}
    for record in DURATIONS.glob("*.md"):
        for line in record.read_text().splitlines():
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if len(cells) == 2 and cells[1].endswith(".py") and "::" not in cells[1]:
                seconds[cells[1]] = max(seconds.get(cells[1], 0.0), float(cells[0]))
    return seconds


def pytest_addoption(parser):
    parser.addoption("--record_durations", metavar="PATH",
                     help="write each test's wall time (setup + call + teardown), the run's wall "
                          "time, test count, selection and machine to PATH (Markdown); "
                          "tests/durations/ holds the committed ones")


def pytest_configure(config):
    """Under pytest-xdist, files go out in collection order (the slowest recorded first), not its
    default of the files with the most tests first."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
    config.stash[_STARTED] = time.monotonic()


_STARTED = pytest.StashKey[float]()
_TEST_SECONDS = collections.defaultdict(float)  # node id -> setup + call + teardown, all workers
_FAILED = set()


def pytest_runtest_logreport(report):
    _TEST_SECONDS[report.nodeid] += report.duration
    if report.failed:
        _FAILED.add(report.nodeid)


def pytest_sessionfinish(session):
    path = session.config.getoption("record_durations")
    if path and not hasattr(session.config, "workerinput"):  # the controller, or the one process
        wall = time.monotonic() - session.config.stash[_STARTED]
        pathlib.Path(path).write_text(_durations_report(session.config, wall))


def _durations_report(config, wall):
    per_file = collections.defaultdict(float)
    for node, seconds in _TEST_SECONDS.items():
        per_file[node.split("::")[0]] += seconds
    selection = config.getoption("markexpr") or "(every test)"
    lines = [
        f"# Test durations: `-m \"{selection}\"`", "",
        f"- command: `python -m pytest {' '.join(config.invocation_params.args)}`",
        f"- date: {datetime.date.today().isoformat()}, commit {_commit()}",
        f"- machine: {_cpu_model()}, {len(os.sched_getaffinity(0))} cores, Python "
        f"{platform.python_version()}",
        f"- wall time: {wall:.0f} s ({wall / 60:.1f} min) for {len(_TEST_SECONDS)} tests "
        f"({len(_FAILED)} failed); tests' own time summed over workers: "
        f"{sum(_TEST_SECONDS.values()):.0f} s", "",
        "## By file", "", "| seconds | file |", "| ---: | --- |"]
    lines += [f"| {s:.1f} | {f} |" for f, s in sorted(per_file.items(), key=lambda i: -i[1])]
    lines += ["", "## By test", "", "| seconds | test |", "| ---: | --- |"]
    lines += [f"| {s:.2f} | {n.replace('|', '/')} |"  # a parameter's | would split the row
              for n, s in sorted(_TEST_SECONDS.items(), key=lambda i: -i[1])]
    return "\n".join(lines) + "\n"


def _commit():
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                            capture_output=True)
    return result.stdout.strip() or "unknown"


def _cpu_model():
    """The CPU's model name and its bfloat16 flags (they decide what ``--mixed_precision=auto``
    trains in, and so how long the training tests take)."""
    lines = pathlib.Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in lines
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    native = [flag for flag in ("amx_bf16", "avx512_bf16") if flag in flags]
    return f"{model} ({', '.join(native) if native else 'no bfloat16 instructions'})"


def pytest_collection_modifyitems(items):
    seconds = _recorded_file_seconds()
    items.sort(key=lambda item: -seconds.get(item.nodeid.split("::")[0], 0.0))  # stable


def _built_once(tmp_path_factory, name, build):
    """The folder ``name`` that ``build(folder)`` fills, built once per test session.

    Under pytest-xdist (``-n 2``) every worker has its own session fixtures; this folder sits in
    the folder the workers share instead: the first worker to ask builds it under a file lock and
    the others wait for it and reuse it. Treat it as read-only (copy it before changing it)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        folder = tmp_path_factory.mktemp(name, numbered=False)
        build(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent  # this session's, above each worker's own
    folder, done = shared / name, shared / f"{name}.done"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def built_once(tmp_path_factory):
    """``built_once(name, build)``: the folder ``name`` that ``build(folder)`` fills, once per
    session however many pytest-xdist workers ask (``_built_once``)."""
    return lambda name, build: _built_once(tmp_path_factory, name, build)


@pytest.fixture(scope="session")
def cifar10_dir():
    assert CIFAR10_JPEG.is_dir(), f"the shared CIFAR-10 folder is missing at {CIFAR10_JPEG}"
    return CIFAR10_JPEG


# One finished trainer run serves the training, evaluation and analysis tests: 1-step sAT on 256
# built-in shapes10 images, 2 epochs of 8 steps, robust validation on 16 images; in float32 on
# every machine (auto would pick bfloat16 on a CPU with AVX512-BF16 or AMX).
TINY_RUN = ("--model=small_cnn", "--width=0.25", "--epochs=2", "--batch_size=32",
            "--max_train_examples=256", "--max_eval_examples=64", "--method=sparse_at",
            "--val_robust_examples=16", "--val_attack_iterations=2", "--log_every_steps=2",
            "--mixed_precision=off")


@pytest.fixture(scope="session")
def tiny_run_args():
    return TINY_RUN


@pytest.fixture(scope="session")
def tiny_run(built_once, run_module):
    """The folder of a finished ``python -m tf_fastls0.train`` run with ``TINY_RUN``'s flags
    (saved_model/, model.keras, summary.json, config.json, checkpoints/, logs/); shared by the
    pytest-xdist workers (``built_once``): copy it before changing anything in it."""
    def train(output_dir):
        result = run_module("tf_fastls0.train", *TINY_RUN, f"--output_dir={output_dir}")
        assert result.returncode == 0, result.stderr[-3000:]

    return built_once("tiny_run", train)


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def run_module():
    """Runs ``python -m module args`` from the repository root; returns the CompletedProcess."""

    def run(module, *args, env=None, timeout=600):
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
        return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=environment,
                              capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def start_module():
    """Starts ``python -m module args`` from the repository root; returns the ``Popen`` (stderr
    piped, as text). SIGINT reaches it as Ctrl-C would, even where the tests run as a background
    job, which starts with SIGINT ignored."""
    import signal

    def start(module, *args):
        return subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=REPO, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    return start


@pytest.fixture(scope="session")
def wait_for():
    """``wait_for(path, process)``: waits until ``path`` exists while ``process`` runs."""
    return _wait_for


def _wait_for(path, process, deadline=300):
    import time

    stop = time.monotonic() + deadline
    while not path.exists():
        assert process.poll() is None, f"the process ended before {path} appeared"
        assert time.monotonic() < stop, f"{path} did not appear"
        time.sleep(0.05)


@pytest.fixture(scope="session")
def imagenet_like():
    """``testdata/make_imagenet_like.py`` as a module, loaded once: it defines absl flags, which a
    second load in the same process would define twice."""
    spec = importlib.util.spec_from_file_location("make_imagenet_like",
                                                  REPO / "testdata" / "make_imagenet_like.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
