"""python -m lora_lens_trainer run --plan plan.json --run-dir runs/<id> [--resume | --resume-anyway | --dry-run] | merge --run-dir D | doctor

Exit codes: schemas/exit-codes.json."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lora_lens_trainer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train per the plan, streaming events to RUN_DIR/events.jsonl and stdout")
    run.add_argument("--plan", required=True, type=Path)
    run.add_argument("--run-dir", required=True, type=Path)
    run.add_argument("--resume", action="store_true", help="continue from the run folder's latest checkpoint")
    run.add_argument("--resume-anyway", action="store_true",
                     help="like --resume, but continue even if the plan or dataset changed since the checkpoint")
    run.add_argument("--dry-run", action="store_true",
                     help="check the plan and its dataset for everything run would refuse at start; print one JSON line "
                          "({\"ok\": true} or {\"ok\": false, \"problems\": [...]}), exit 0 or 1, write nothing")
    run.add_argument("--estimate-peak-bytes", type=float, default=None, help="the estimator's peak, quoted in OOM advice")
    run.add_argument("--estimate-tokens-per-second", type=float, default=None,
                     help="the throughput model's tokens/s, passed on in the start event for predicted-against-actual panels")
    merge = sub.add_parser("merge", help="merge RUN_DIR/adapter into the base model, into RUN_DIR/merged")
    merge.add_argument("--run-dir", required=True, type=Path)
    sub.add_parser("doctor", help="print the environment as JSON")
    args = parser.parse_args(argv)

    if args.command == "doctor":
        from .doctor import report

        print(json.dumps(report(), indent=2))
        return 0
    if args.command == "run" and args.dry_run:
        from .preflight import dry_run

        return dry_run(args.plan)
    if args.command == "run":
        from .train import run as run_training

        return run_training(args.plan, args.run_dir, args.resume, args.estimate_peak_bytes, args.resume_anyway,
                            args.estimate_tokens_per_second)
    from .merge import MergeCheckFailed, checked_report, merge as do_merge
    from .plan import PlanError, read_plan

    try:
        plan = read_plan(args.run_dir / "plan.json")
    except PlanError as error:
        print(f"lora_lens_trainer merge: {error}", file=sys.stderr)
        return 1
    try:
        # The last stdout line is the report the CLI and the editor parse: schemas/merge-report.schema.json.
        print(json.dumps(checked_report(do_merge(args.run_dir, plan))))
    except (FileNotFoundError, MergeCheckFailed) as error:
        print(f"lora_lens_trainer merge: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
