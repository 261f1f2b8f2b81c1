"""Output paths the user's environment cannot take are refused before any work, in one line
naming the path and the problem."""

import errno
import os

import pytest

from tf_fastls0.utils import output_paths
from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.output_paths import check_output_dir, check_output_file, environment_errors


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    """A folder nobody may write into (for root too, whom chmod does not stop)."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root: answer as the kernel does for everyone else
        real = os.access
        monkeypatch.setattr(output_paths.os, "access",
                            lambda path, mode: real(path, mode) and str(path) != str(folder))
    yield folder
    folder.chmod(0o755)


@pytest.mark.parametrize("case, message", [
    ("a file", "--output_dir {tmp}/a_file is a file, not a folder"),
    ("empty", "--output_dir is empty; name a folder or file to write to"),
    ("blank", "--output_dir is empty"),
    ("too long", "is longer than the 255 characters a file name may have here"),
    ("below a file", "--output_dir {tmp}/a_file/run: {tmp}/a_file is a file, not a folder"),
    ("read-only parent", "--output_dir {tmp}/read_only/run: cannot create it, the folder "
                         "{tmp}/read_only is not writable"),
    ("read-only folder", "--output_dir {tmp}/read_only: the folder is not writable"),
])
def test_unusable_output_folders_are_refused(case, message, tmp_path, read_only):
    (tmp_path / "a_file").write_text("x")
    path = {"a file": tmp_path / "a_file", "empty": "", "blank": "  ",
            "too long": tmp_path / ("r" * 300), "below a file": tmp_path / "a_file" / "run",
            "read-only parent": read_only / "run", "read-only folder": read_only}[case]
    with pytest.raises(UsageError) as refused:
        check_output_dir(str(path))
    assert message.format(tmp=tmp_path) in str(refused.value)
    assert "\n" not in str(refused.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "read_only"]


def test_an_output_file_that_is_a_folder_is_refused(tmp_path):
    with pytest.raises(UsageError, match=f"--save_adversarial {tmp_path} is a folder, not a file"):
        check_output_file(str(tmp_path), "--save_adversarial")
    check_output_file(str(tmp_path / "new" / "adversarial.npz"), "--save_adversarial")


def test_a_failing_write_becomes_one_line_naming_the_path(tmp_path):
    with pytest.raises(UsageError, match=f"cannot write {tmp_path}/x: No space left on device$"):
        with environment_errors(tmp_path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"{tmp_path}/x")


@pytest.mark.parametrize("error, line", [
    (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/out/x.json"),
     "cannot write /out/x.json: No space left on device"),
    (OSError(errno.EROFS, os.strerror(errno.EROFS)), "cannot write /out: Read-only file system"),
    (OSError("disk gone"), "cannot write /out: disk gone"),
    (OSError(), "cannot write /out: OSError"),
    # what TensorFlow raises from SavedModel export, checkpoints and summaries: no filename, no
    # strerror, a message (sometimes of several lines, sometimes empty)
    ("tf:ResourceExhaustedError:/out/saved_model/variables.data; No space left on device\nmore",
     "cannot write /out: /out/saved_model/variables.data; No space left on device"),
    ("tf:PermissionDeniedError:/out/logs; Read-only file system",
     "cannot write /out: /out/logs; Read-only file system"),
    ("tf:UnknownError:", "cannot write /out: UnknownError"),
])
def test_describe_is_total_over_the_errors_that_reach_its_handlers(error, line):
    if isinstance(error, str):
        import tensorflow as tf

        _, kind, message = error.split(":", 2)
        error = getattr(tf.errors, kind)(None, None, message)
    assert output_paths.describe(error, "/out") == line
    if isinstance(error, OSError):  # the OSErrors reach environment_errors too
        with pytest.raises(UsageError) as refused:
            with environment_errors("/out"):
                raise error
        assert str(refused.value) == line
