"""Train and evaluate a table of runs, one after another, and compare them with the paper.

    python -m benchmarks.compare --flagfile=benchmarks/configs/table1_cpu.flags

Each ``--run=NAME=FLAGFILE[:OVERRIDE;...]`` is trained by ``python -m tf_fastls0.train`` in its own
process (or resumed, or skipped when finished), then evaluated by ``python -m tf_fastls0.evaluate``
with the same Sparse-AutoAttack budget, test images and seed as every other run. Into
``--output_dir`` go ``table.md``, ``table.csv``, ``results.json`` and ``robust_vs_time.png``
(rewritten after every run), and ``logs/<run>.{train,eval}.log``. Run it again after an
interruption: finished runs are not redone. Exit status: 0 when every run is finished, 75 when
it stopped early (``--deadline_seconds``, ``--stop_after_runs``): run it again; 1 when a run failed.
Every row's trainer and evaluator flags are parsed before any row runs: a refused flag stops the
table at once with one line naming the row (exit status 2).
"""

import datetime
import os
import platform
import shlex
import sys

from absl import flags

from benchmarks.harness import plot, table
from benchmarks.harness.processes import Deadline
from benchmarks.harness.provenance import git_commit
from benchmarks.harness.rows import collect_row
from benchmarks.harness.specs import CORNERSEARCH_IMAGES, EvalBudget, as_flags, \
    check_rows, evaluator_argv, parse_runs, run_dir, trainer_argv
from benchmarks.harness.steps import FAILED, FINISHED, STOPPED, Plan, bring_up_to_date, needs_work
from tf_fastls0.attacks.registry import STAGE_CODES
from tf_fastls0.evaluation.budgets import PAPER, QUICK
from tf_fastls0.utils.atomic import write_json
from tf_fastls0.utils.cli import UsageError, fail, refuse_positional_arguments, run_main
from tf_fastls0.utils.old_names import warn_old_flags
from tf_fastls0.utils.settings import MAX_SEED

EXIT_UNFINISHED = 75  # EX_TEMPFAIL: stopped early on purpose; the same command continues

flags.DEFINE_multi_string("run", [], "One row: NAME=FLAGFILE[:FLAG;FLAG...], a trainer flagfile "
                          "and trainer flags that override it (repeat the flag for more rows).")
flags.DEFINE_string("table", None, "The paper's table these runs reproduce (a key of "
                    "benchmarks/paper_results.TABLES, e.g. table1); its figures go beside ours.")
flags.DEFINE_string("title", None, "Title of the table and plot (default: the output folder).")
flags.DEFINE_string("output_dir", None, "Where the table, CSV, JSON, plot and logs go.")
flags.DEFINE_string("runs_dir", None, "Where the run folders go (default <output_dir>/runs). "
                    "Tables that share it share runs of the same name and settings.")
flags.DEFINE_multi_string("train_flag", [], "A trainer flag given to every run, after its "
                          "flagfile and before its own overrides (repeat the flag for more).")
flags.DEFINE_multi_string("eval_flag", [], "An evaluator flag given to every evaluation, e.g. "
                          "the data flags (default: each run's own data settings).")
flags.DEFINE_integer("eps", 20, "l0 budget of the evaluation, in pixels.", lower_bound=1)
flags.DEFINE_list("attacks", ["saa"], "Evaluator --attacks: saa, or saa plus single attacks "
                  f"({', '.join(STAGE_CODES)}) for the paper's per-attack columns; cornersearch "
                  "runs apart on at most 1,000 of the same images.")
flags.DEFINE_integer("iterations", QUICK["iterations"], "sPGD iterations per sAA stage, and "
                     f"SAIF's and sigma-zero's steps (paper: {PAPER['iterations']}).",
                     lower_bound=1)
flags.DEFINE_integer("queries", QUICK["queries"], "Sparse-RS queries, and CornerSearch's "
                     f"candidates per sparsity and class (paper: {PAPER['queries']}).",
                     lower_bound=1)
flags.DEFINE_alias("iters", "iterations")  # the old names, still accepted (deprecated)
flags.DEFINE_alias("rs_queries", "queries")
OLD_FLAGS = {"iters": "iterations", "rs_queries": "queries"}
flags.DEFINE_integer("n_examples", QUICK["n_examples"],
                     f"Test images attacked (paper: {PAPER['n_examples']}).", lower_bound=1)
flags.DEFINE_integer("eval_batch_size", 500, "Images per attack batch.", lower_bound=1)
flags.DEFINE_integer("cornersearch_images", CORNERSEARCH_IMAGES,
                     "CornerSearch, slow, attacks only the first this many of the --n_examples "
                     "images (the paper: 1,000), in an evaluation of its own.", lower_bound=1)
flags.DEFINE_integer("eval_seed", 0, "Seed of the test-image subset and the attacks.",
                     lower_bound=0, upper_bound=MAX_SEED)
flags.DEFINE_integer("eval_shards", 1, "Evaluate each run as this many shards side by side, "
                     "shard i with CUDA_VISIBLE_DEVICES=i (one per GPU), then merge.",
                     lower_bound=1)
flags.DEFINE_list("only", [], "Work on these runs only (the table still lists every run).")
flags.DEFINE_float("deadline_seconds", None, "Stop (exit 75) after this many seconds, stopping a "
                   "running trainer/evaluator, which the next invocation resumes.", lower_bound=1)
flags.DEFINE_integer("stop_after_runs", None, "Stop (exit 75) before starting work on a run once "
                     "this many runs have been worked on in this invocation.", lower_bound=1)
flags.DEFINE_boolean("dry_run", False, "Print each run's trainer and evaluator commands and "
                     "whether it is finished; run nothing.")
FLAGS = flags.FLAGS


def main(argv):
    refuse_positional_arguments(argv)
    warn_old_flags(OLD_FLAGS)
    try:
        specs, plan = _specs_and_plan()
    except UsageError as error:
        fail(str(error))
    if FLAGS.dry_run:
        _print_commands(specs, plan)
        return
    statuses = _work(specs, plan)
    rows = [collect_row(spec, plan.runs_dir, plan.budget, FLAGS.table, statuses[spec.name])
            for spec in specs]
    _write_outputs(rows, plan)
    print(table.markdown(rows))
    print(f"outputs in {FLAGS.output_dir}")
    if FAILED in statuses.values():
        sys.exit(1)
    if STOPPED in statuses.values():
        print("stopped early: run the same command again to continue")
        sys.exit(EXIT_UNFINISHED)


def _specs_and_plan():
    if not FLAGS.output_dir:
        raise UsageError("--output_dir is required")
    if not FLAGS.run:
        raise UsageError("no --run given: name at least one NAME=FLAGFILE[:FLAG;...]")
    specs = parse_runs(FLAGS.run)
    unknown = sorted(set(FLAGS.only) - {spec.name for spec in specs})
    if unknown:
        raise UsageError(f"--only names runs that are not in the table: {', '.join(unknown)}")
    budget = EvalBudget(eps=FLAGS.eps, attacks=tuple(FLAGS.attacks), iterations=FLAGS.iterations,
                        queries=FLAGS.queries, n_examples=FLAGS.n_examples,
                        batch_size=FLAGS.eval_batch_size, seed=FLAGS.eval_seed,
                        fewer_images=(("cornersearch", FLAGS.cornersearch_images),))
    plan = Plan(runs_dir=FLAGS.runs_dir or os.path.join(FLAGS.output_dir, "runs"),
                logs_dir=os.path.join(FLAGS.output_dir, "logs"),
                train_flags=tuple(as_flags(FLAGS.train_flag)),
                eval_flags=tuple(as_flags(FLAGS.eval_flag)), budget=budget,
                eval_shards=FLAGS.eval_shards)
    check_rows(specs, plan.runs_dir, plan.train_flags, budget, plan.eval_flags)
    return specs, plan


def _work(specs, plan):
    """Brings the runs up to date in order; returns run name -> status."""
    deadline = Deadline(FLAGS.deadline_seconds)
    statuses = {spec.name: "pending" for spec in specs}
    worked = 0
    for spec in specs:
        if not needs_work(spec, plan):
            statuses[spec.name] = FINISHED
            _say(f"{spec.name}: finished already (summary.json and report.json); skipping")
            continue
        if FLAGS.only and spec.name not in FLAGS.only:
            continue
        if deadline.passed() or (FLAGS.stop_after_runs and worked >= FLAGS.stop_after_runs):
            statuses[spec.name] = STOPPED
            _say(f"stopping before {spec.name} (deadline or --stop_after_runs)")
            break
        status, did_work = bring_up_to_date(spec, plan, deadline, _say)
        statuses[spec.name], worked = status, worked + did_work
        _write_outputs([collect_row(s, plan.runs_dir, plan.budget, FLAGS.table, statuses[s.name])
                        for s in specs], plan)
        if status == STOPPED:
            break
    return statuses


def _write_outputs(rows, plan):
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    title = FLAGS.title or os.path.basename(os.path.normpath(FLAGS.output_dir))
    context = _context(rows, plan)
    with open(os.path.join(FLAGS.output_dir, "table.md"), "w") as handle:
        handle.write(_markdown_page(title, rows, context))
    with open(os.path.join(FLAGS.output_dir, "table.csv"), "w") as handle:
        handle.write(table.csv_text(rows))
    write_json(os.path.join(FLAGS.output_dir, "results.json"), {**context, "rows": rows})
    plot.robust_vs_time(rows, os.path.join(FLAGS.output_dir, "robust_vs_time.png"), title)
    plot.robust_by_epoch(rows, os.path.join(FLAGS.output_dir, "robust_by_epoch.png"), title)


def _context(rows, plan):
    devices = sorted({row["devices"] for row in rows if row.get("devices")})
    return {
        "command": "python -m benchmarks.compare " + shlex.join(sys.argv[1:]),
        "paper_table": FLAGS.table,
        "budget": {"eps": plan.budget.eps, "attacks": list(plan.budget.attacks),
                   "iterations": plan.budget.iterations, "queries": plan.budget.queries,
                   "n_examples": plan.budget.n_examples, "seed": plan.budget.seed},
        "train_flags": list(plan.train_flags), "eval_flags": list(plan.eval_flags),
        "runs_dir": plan.runs_dir,
        "machine": f"{platform.node()}: {platform.processor() or platform.machine()}, "
                   f"{os.cpu_count()} CPU cores; TF devices {', '.join(devices) or '?'}",
        "commit": git_commit(),
        "written_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _markdown_page(title, rows, context):
    budget = context["budget"]
    lines = [
        f"# {title}", "",
        f"Command: `{context['command']}`  ",
        f"Machine: {context['machine']}; commit {context['commit']}; "
        f"written {context['written_at']}",
        "",
        f"Evaluation (the same for every run): {'+'.join(budget['attacks'])} at eps = "
        f"{budget['eps']} pixels, {budget['iterations']} sPGD iterations per stage, "
        f"{budget['queries']} Sparse-RS queries, {budget['n_examples']} test images, "
        f"seed {budget['seed']}. Accuracies in percent. \"sAA: after ...\" columns are the "
        "cascade's survivors after that stage; \"alone\" columns run one attack by itself "
        "(CS, as in the paper, on a subset of \"CS images\" of the same images; SAIF and "
        "sigma-zero take the sPGD iterations as their steps, CS min(queries, 1000) candidates "
        "per sparsity and class).", "",
        table.markdown(rows), "",
        "Train time: wall time of every trainer invocation of the run (start-up, per-epoch "
        "validation and export included); s/epoch: median epoch time (training and clean "
        "validation; the robust validation runs after it is taken). vs training attack: "
        "accuracy on the last epoch's training batches against the method's own training attack "
        "(far above sAA means the attack stopped working). val robust: the trainer's per-epoch "
        "robust accuracy (quick sAA) on its few validation images (--val_robust_examples), "
        "best epoch and last epoch; a last far below the best is catastrophic overfitting "
        "(robust_by_epoch.png shows them per epoch beside the training-attack and clean "
        "accuracy).",
    ]
    if any(key.startswith("paper_") for row in rows for key in row):
        lines += ["", "Paper columns: Zhong et al. 2025 (SPEC §7), CIFAR-10, PreAct ResNet-18, "
                  "100 epochs, sAA with 10,000 iterations/queries, time on one RTX 6000 Ada. "
                  "They compare in absolute terms only with runs at the paper's settings."]
    return "\n".join(lines) + "\n"


def _print_commands(specs, plan):
    for spec in specs:
        state = "needs work" if needs_work(spec, plan) else "finished"
        print(f"# {spec.name} ({state})")
        print("python -m tf_fastls0.train " + shlex.join(
            trainer_argv(spec, plan.runs_dir, plan.train_flags)))
        directory = run_dir(plan.runs_dir, spec)
        print("python -m tf_fastls0.evaluate " + shlex.join(evaluator_argv(
            directory, os.path.join(directory, plan.budget.folder_name), plan.budget,
            plan.eval_flags)))


def _say(message):
    stamp = datetime.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", flush=True)


if __name__ == "__main__":
    run_main(main)
