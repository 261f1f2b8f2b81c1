#!/usr/bin/env bash
# Everything worth knowing about this machine's GPU for tf_fastls0, in one call of at most
# 8 minutes (python -m benchmarks.gpu_check; its docstring says what is measured):
#
#   benchmarks/gpu/check.sh [--tiny] [--output_dir=DIR] [--data_dir=CIFAR10_JPEG] [--max_seconds=S]
#
# Writes results.json and summary.md to benchmarks/results/gpu_check/<device>/ (or DIR): step
# times of the Table 1 methods (float32 / bfloat16, XLA off / on), one epoch of Fast-LS-l0 on the
# CIFAR-10 image folder with the projected 100 epochs beside the paper's 50 minutes, sAA's
# throughput at k = 20 (quick budget), peak GPU memory, the TF, CUDA and driver versions.
# --tiny checks the code path on any machine (CPU included) in seconds.
# PYTHON=... picks the interpreter (default python3); DATA_DIR=... the CIFAR-10 image folder.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
extra=()
[[ -n ${DATA_DIR:-} ]] && extra+=(--data_dir="$DATA_DIR")
# The module skips the parts that would start after --max_seconds (default 450); the timeout
# stops a part that overruns, keeping what the parts before it wrote.
exec timeout --signal=INT --kill-after=20 480 "${PYTHON:-python3}" -m benchmarks.gpu_check \
  "${extra[@]}" "$@"
