"""The comparison table: columns, paper figures beside ours, CSV, durations; the processes'
deadline."""

import csv
import io
import sys

from benchmarks.harness import table
from benchmarks.harness.processes import Deadline, run_logged


def _rows():
    return [
        {"run": "a", "label": "A", "status": "finished", "clean": 80.0, "saa": 40.3,
         "paper_saa": 63.0, "train_seconds": 3725.0, "epoch_seconds": 12.34},
        {"run": "b", "label": "B", "status": "pending", "paper_saa": 36.2},
    ]


def test_paper_column_follows_ours_and_empty_columns_are_left_out():
    keys = [key for key, _ in table.columns_for(_rows())]
    assert keys == ["label", "status", "clean", "saa", "paper_saa", "train_seconds",
                    "epoch_seconds"]


def test_markdown_has_a_header_a_rule_and_one_line_per_run():
    lines = table.markdown(_rows()).splitlines()
    assert len(lines) == 4
    assert lines[2].split(" | ")[3:5] == ["40.3", "63.0"]  # our sAA, then the paper's
    assert "1h02m" in lines[2] and "| B | pending |" in lines[3]


def test_csv_keeps_full_precision_and_blank_for_missing():
    rows = list(csv.DictReader(io.StringIO(table.csv_text(_rows()))))
    assert [row["run"] for row in rows] == ["a", "b"]
    assert float(rows[0]["saa"]) == 40.3 and rows[1]["saa"] == ""
    assert float(rows[1]["paper_saa"]) == 36.2


def test_format_duration():
    assert table.format_duration(12.34) == "12.3s"
    assert table.format_duration(247) == "4m07s"
    assert table.format_duration(5 * 3600 + 16 * 60) == "5h16m"


def test_a_command_past_its_deadline_is_stopped_and_logged(tmp_path):
    log = tmp_path / "log.txt"
    outcome = run_logged([sys.executable, "-c", "import time; time.sleep(120)"], str(log),
                         Deadline(1.0))
    assert outcome.timed_out and not outcome.ok
    finished = run_logged([sys.executable, "-c", "print('hello'); raise SystemExit(3)"],
                          str(log), Deadline())
    assert finished.returncode == 3
    text = log.read_text()
    assert text.count("$ ") == 2 and "hello" in text
