"""Interleaved timing: every candidate is timed in each round, so a noisy neighbour on a shared
machine slows all of them alike and the ratios stay meaningful."""

import statistics
import time


def interleaved_medians(candidates, rounds, calls_per_round=1, on_round=None, warmup_rounds=0):
    """``candidates``: name -> zero-argument callable (already warmed up). Returns name -> median
    seconds per call over ``rounds`` rounds, after ``warmup_rounds`` untimed calls of each.

    A warm-up round after every candidate is built matters for training steps: building a later
    Keras trainer makes an earlier one's ``tf.function`` trace again on its next call (seconds
    for a ResNet), which a single timed round would count as a step."""
    for _ in range(warmup_rounds):
        for call in candidates.values():
            call()
    samples = {name: [] for name in candidates}
    for round_index in range(rounds):
        for name, call in candidates.items():
            start = time.perf_counter()
            for _ in range(calls_per_round):
                call()
            samples[name].append((time.perf_counter() - start) / calls_per_round)
        if on_round:
            on_round(round_index)
    return {name: statistics.median(values) for name, values in samples.items()}


def training_step_medians(steps, rounds, calls_per_round):
    """``interleaved_medians`` of built training steps, as the step benchmarks time them: one
    warm-up round first (see above), and a line printed after each round."""
    return interleaved_medians(steps, rounds, calls_per_round, warmup_rounds=1,
                               on_round=lambda r: print(f"round {r + 1}/{rounds} done",
                                                        flush=True))


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
