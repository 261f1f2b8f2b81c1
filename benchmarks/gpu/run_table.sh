#!/usr/bin/env bash
# Runs one benchmark table on the GPU(s) of this machine in bounded pieces.
#
#   benchmarks/gpu/run_table.sh TABLE [--gpus=N] [--piece_seconds=S] [--pieces=K] [--no_xla]
#                               [-- MORE_COMPARE_FLAGS...]
#
# TABLE: a config in benchmarks/configs (e.g. table4a_paper, smoke) or a path to a flagfile.
# Each piece is one `python -m benchmarks.compare` invocation stopped after S seconds (default
# 500): a trainer or evaluator still running then is stopped and the next piece resumes it from
# its last checkpoint (the trainer; --checkpoint_every_steps makes them closer) or its last
# finished batch (the evaluator). Finished runs are never redone. With --pieces=K it stops after
# K pieces (exit 75: run the same command again), e.g. --pieces=1 for jobs limited to 10 minutes;
# by default it goes on until the table is done (exit 0).
#
# XLA: --jit_compile is added to every trainer (the same computation, compiled; all methods
# compile). --gpus=N>1 (default: every GPU nvidia-smi lists) trains with --strategy=mirrored and
# --sync_batchnorm (so BatchNorm still sees the whole batch, as on one GPU: the same method), and
# evaluates each run as N shards side by side, one per GPU, merged afterwards.
# Keep the options the same for every piece of a table: the trainer refuses to resume a run under
# other settings (XLA, strategy and sync_batchnorm are part of a run's settings).
# DATA_DIR=... overrides the CIFAR-10 image folder (default ../shared/data/cifar10-jpeg).
set -euo pipefail

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 1 ]] || usage
table=$1; shift
gpus=""; piece_seconds=500; pieces=0; xla=1; extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --gpus=*) gpus=${1#*=} ;;
    --piece_seconds=*) piece_seconds=${1#*=} ;;
    --pieces=*) pieces=${1#*=} ;;
    --no_xla) xla=0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown option $1" >&2; usage ;;
  esac
  shift
done

cd "$(dirname "$0")/../.."  # the repository root: flagfile paths are relative to it
if [[ -f $table ]]; then flagfile=$table; else flagfile=benchmarks/configs/$table.flags; fi
[[ -f $flagfile ]] || { echo "no table config $flagfile" >&2; exit 2; }
if [[ -z $gpus ]]; then
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
  [[ $gpus -ge 1 ]] || gpus=1
fi
python=${PYTHON:-python3}

flags=(--flagfile="$flagfile" --deadline_seconds="$piece_seconds")
[[ $xla == 1 ]] && flags+=(--train_flag=--jit_compile)
if [[ $gpus -gt 1 ]]; then
  flags+=(--train_flag=--strategy=mirrored --train_flag=--sync_batchnorm --eval_shards="$gpus")
fi
if [[ -n ${DATA_DIR:-} ]]; then
  flags+=(--train_flag=--data_dir="$DATA_DIR" --eval_flag=--data_dir="$DATA_DIR")
fi
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

piece=0
while :; do
  piece=$((piece + 1))
  echo "=== $table: piece $piece (at most ${piece_seconds}s; $gpus GPU(s), XLA $xla) ==="
  status=0
  "$python" -m benchmarks.compare "${flags[@]}" "${extra[@]}" || status=$?
  if [[ $status -eq 0 ]]; then
    echo "=== $table: finished after $piece piece(s) ==="
    exit 0
  fi
  if [[ $status -ne 75 ]]; then
    echo "=== $table: failed (exit $status); see the logs named above ===" >&2
    exit "$status"
  fi
  if [[ $pieces -gt 0 && $piece -ge $pieces ]]; then
    echo "=== $table: not finished after $piece piece(s); run the same command again ==="
    exit 75
  fi
done
