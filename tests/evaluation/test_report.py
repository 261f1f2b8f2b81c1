"""Report arithmetic from per-image records, the Table-4 row, and merging shard reports."""

import copy

import numpy as np
import pytest

from tf_fastls0.evaluation import MergeError, comparable, markdown_table, merge_reports
from tf_fastls0.evaluation.records import Records
from tf_fastls0.evaluation.report import records_from_report, summarise

# Six images. saa codes: clean mistake, survived, broken by stage 1, 2, 3, survived.
SAA = [0, -1, 1, 2, 3, -1]
RS = [0, -1, -1, 3, -1, 3]
SECONDS = {"saa": {"spgd_unproj": 1.0, "spgd_proj": 2.0, "rs": 3.0}, "rs": {"rs": 4.0}}


def _records(rows=slice(None)):
    indices = np.array([3, 5, 8, 13, 21, 34])[rows]
    labels = np.array([0, 1, 2, 0, 1, 2], np.int32)[rows]
    return Records(indices, labels, {"saa": np.array(SAA, np.int32)[rows],
                                     "rs": np.array(RS, np.int32)[rows]}, copy.deepcopy(SECONDS))


def test_accuracies_and_survivors_counted_by_hand():
    summary = summarise(_records())
    assert summary["n_examples"] == 6 and summary["n_clean_correct"] == 5
    assert summary["clean_acc"] == pytest.approx(100 * 5 / 6)
    assert summary["n_robust"] == 1 and summary["robust_acc"] == pytest.approx(100 / 6)
    saa, rs = summary["attacks"]["saa"], summary["attacks"]["rs"]
    assert [saa["stages"][s]["survivors"] for s in ("spgd_unproj", "spgd_proj", "rs")] == [4, 3, 2]
    assert saa["survivors"] == 2 and saa["robust_acc"] == pytest.approx(100 * 2 / 6)
    assert saa["seconds"] == 6.0 and saa["cumulative"]
    assert rs == {"robust_acc": pytest.approx(50.0), "survivors": 3, "seconds": 4.0,
                  "cumulative": False}


def test_records_round_trip_through_a_report():
    summary = summarise(_records())
    again = records_from_report(summary)
    assert summarise(again) == summary


def test_markdown_row_has_clean_each_attack_and_saa():
    report = {**summarise(_records()), "architecture": "net", "k": 20}
    table = markdown_table(report).splitlines()
    assert table[0] == "| model | k | n | clean | RS | sAA |"
    assert table[2] == "| net | 20 | 6 | 83.3 | 50.0 | 16.7 |"


def _shard_report(rows, index, count, **changes):
    report = {**summarise(_records(rows)), "architecture": "net", "k": 20, "dataset": "d",
              "data": {"name": "d"}, "model": {"sha256": "abc"}, "warnings": ["w"],
              "settings": {"eps": 20, "num_shards": count, "shard_index": index,
                           "output_dir": f"out{index}", "model": "m"},
              "shard": {"index": index, "count": count, "batches": [index, index + 1]},
              "complete": True, "started_at": f"2025-01-0{index + 1}", "wall_seconds": 1.0,
              "finished_at": f"2025-02-0{index + 1}"}
    for key, value in changes.items():
        report[key] = value
    return report


def test_merged_shards_give_the_whole_summary():
    shards = [_shard_report(slice(0, 4), 0, 2), _shard_report(slice(4, 6), 1, 2)]
    for shard in shards:  # each shard timed its own share of the stages
        for summary in shard["attacks"].values():
            summary["seconds"] /= 2
            for stage in summary.get("stages", {}).values():
                stage["seconds"] /= 2
    merged = merge_reports(shards[::-1])
    whole = summarise(_records())
    assert {key: merged[key] for key in whole} == whole
    assert merged["shard"] == {"index": 0, "count": 1, "batches": [0, 2]}
    assert merged["settings"]["num_shards"] == 1 and merged["warnings"] == ["w"]
    assert merged["started_at"] == "2025-01-01" and merged["finished_at"] == "2025-02-02"
    assert comparable(merged)["attacks"] == comparable(
        {**whole, "settings": {}})["attacks"]


@pytest.mark.parametrize("second, message", [
    (lambda: _shard_report(slice(4, 6), 0, 2), "both shard 0"),
    (lambda: _shard_report(slice(4, 6), 1, 3), "differ in num_shards"),
    (lambda: _shard_report(slice(3, 6), 1, 2), "both hold test image 13"),
    (lambda: _shard_report(slice(4, 6), 1, 2, model={"sha256": "other"}), "model sha256"),
    (lambda: _shard_report(slice(4, 6), 1, 2, complete=False), "incomplete"),
    (lambda: {**_shard_report(slice(4, 6), 1, 2), "settings": {
        "eps": 10, "num_shards": 2, "shard_index": 1}}, "differ in eps"),
])
def test_reports_that_are_not_shards_of_one_evaluation_are_refused(second, message):
    with pytest.raises(MergeError, match=message):
        merge_reports([_shard_report(slice(0, 4), 0, 2), second()])


def test_a_missing_shard_is_refused():
    with pytest.raises(MergeError, match="shards 1 of 2 are missing"):
        merge_reports([_shard_report(slice(0, 4), 0, 2)])
