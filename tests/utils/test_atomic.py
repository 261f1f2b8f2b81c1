"""Write-then-rename leaves nothing half-written, and what a killed write left is cleaned up."""

import pytest

from tf_fastls0.utils.atomic import atomic_path, clean_temporaries, write_json


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    write_json(tmp_path / "report.json", {"version": 1})
    with pytest.raises(OSError):
        with atomic_path(tmp_path / "report.json") as temporary:
            with open(temporary, "w") as handle:
                handle.write('{"version": ')
            raise OSError("disk full")
    assert [path.name for path in tmp_path.iterdir()] == ["report.json"]
    assert (tmp_path / "report.json").read_text().strip().endswith("}")


def test_leftovers_of_killed_writes_are_removed_or_put_back(tmp_path):
    (tmp_path / "saved_model.tmp-4242").mkdir()  # killed while exporting
    (tmp_path / "saved_model.tmp-4242" / "saved_model.pb").write_text("half")
    (tmp_path / "model.keras.tmp-4242.keras").write_text("half")  # Keras' own suffix
    (tmp_path / "summary.json.tmp-17").write_text("{")
    (tmp_path / "logs.old-99").mkdir()  # killed between its two renames: the only copy
    (tmp_path / "logs.old-99" / "events").write_text("kept")
    (tmp_path / "report.json").write_text("{}")
    (tmp_path / "report.json.old-5").write_text("{}")  # killed after both renames
    (tmp_path / "notes.tmp-mine").write_text("not ours")  # no pid: not a leftover of ours
    removed = clean_temporaries(tmp_path)
    assert sorted(removed) == ["model.keras.tmp-4242.keras", "report.json.old-5",
                               "saved_model.tmp-4242", "summary.json.tmp-17"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["logs", "notes.tmp-mine",
                                                                 "report.json"]
    assert (tmp_path / "logs" / "events").read_text() == "kept"


def test_only_the_named_writes_are_cleaned_when_asked(tmp_path):
    (tmp_path / "report.json.tmp-3").write_text("{")
    (tmp_path / "draft.tex.tmp-2024").write_text("the user's")
    assert clean_temporaries(tmp_path, finals=("report.json",)) == ["report.json.tmp-3"]
    assert [path.name for path in tmp_path.iterdir()] == ["draft.tex.tmp-2024"]
