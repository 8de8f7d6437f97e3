"""python -m lora_lens_trainer run --plan plan.json --run-dir runs/<id> [--resume | --resume-anyway | --dry-run] | merge --run-dir D |
export --run-dir D [--format gguf|merged] [--quant f16] [--out PATH] [--reference] |
evaluate --target DIR [--eval-file F] [--general-text F] [--rows N] [...] | doctor |
preview --plan plan.json [--rows N] [--sample N] [--seed S] [--row I ...] [--line L ...]

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
    run.add_argument(
        "--resume-anyway",
        action="store_true",
        help="like --resume, but continue even if the plan or dataset changed since the checkpoint",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="check the plan and its dataset for everything run would refuse at start; print one JSON line "
        '({"ok": true} or {"ok": false, "problems": [...]}), exit 0 or 1, write nothing',
    )
    run.add_argument(
        "--estimate-peak-bytes", type=float, default=None, help="the estimator's peak, quoted in OOM advice"
    )
    run.add_argument(
        "--estimate-tokens-per-second",
        type=float,
        default=None,
        help="the throughput model's tokens/s, passed on in the start event for predicted-against-actual panels",
    )
    merge = sub.add_parser("merge", help="merge RUN_DIR/adapter into the base model, into RUN_DIR/merged")
    merge.add_argument("--run-dir", required=True, type=Path)
    export = sub.add_parser(
        "export",
        help="write RUN_DIR's merged model as a GGUF file (+ Ollama Modelfile) or a "
        "safetensors folder, tensor by tensor; the last stdout line is a JSON report",
    )
    export.add_argument("--run-dir", required=True, type=Path)
    export.add_argument("--format", default="gguf", choices=["gguf", "merged"])
    export.add_argument("--quant", default="f16", help="GGUF tensor type: f32 f16 bf16 q8_0 q5_1 q5_0 q4_1 q4_0")
    export.add_argument("--out", type=Path, default=None, help="the file (gguf) or folder (merged) to write")
    export.add_argument(
        "--reference",
        action="store_true",
        help="also write the torch model's log-probabilities and greedy tokens on a chat prompt, "
        "for lora-lens export --verify",
    )
    sub.add_parser("doctor", help="print the environment as JSON")
    preview = sub.add_parser(
        "preview",
        help="print the plan's training rows as the trainer will feed them: tokens, trained/masked, truncation "
        "(one JSON object, schemas/preview.schema.json)",
    )
    preview.add_argument("--plan", required=True, type=Path)
    preview.add_argument("--rows", type=int, default=5, help="the first N rows (default 5)")
    preview.add_argument("--sample", type=int, default=0, help="also a seeded random sample of N rows")
    preview.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    preview.add_argument("--row", type=int, action="append", default=[], help="also this row (0-based; repeatable)")
    preview.add_argument(
        "--line", type=int, action="append", default=[], help="also the row starting on this file line (1-based)"
    )
    from .evaluate import cli as evaluate_cli

    evaluate_cli.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "evaluate":
        return evaluate_cli.run(args)
    if args.command == "export":
        return _export(args)

    if args.command == "preview":
        from .preview import Selection
        from .preview import run as run_preview

        if min(args.rows, args.sample) < 0:
            parser.error("--rows and --sample must be 0 or more")
        return run_preview(args.plan, Selection(args.rows, args.sample, args.seed, tuple(args.row), tuple(args.line)))
    if args.command == "doctor":
        from .doctor import report

        print(json.dumps(report(), indent=2))
        return 0
    if args.command == "run" and args.dry_run:
        from .preflight import dry_run

        return dry_run(args.plan)
    if args.command == "run":
        from .train import run as run_training

        return run_training(
            args.plan,
            args.run_dir,
            args.resume,
            args.estimate_peak_bytes,
            args.resume_anyway,
            args.estimate_tokens_per_second,
        )
    from .merge import MergeCheckFailed, checked_report
    from .merge import merge as do_merge
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


def _export(args: argparse.Namespace) -> int:
    from .export import ExportError
    from .export.run import export_run
    from .plan import PlanError, read_plan

    try:
        plan = read_plan(args.run_dir / "plan.json")
        # The last stdout line is the report the CLI parses.
        print(json.dumps(export_run(args.run_dir, plan, args.format, args.quant, args.out, args.reference)))
    except (PlanError, ExportError) as error:
        print(f"lora_lens_trainer export: {error}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as error:
        # gguf above all: optional for training, needed to write a GGUF (lora-lens doctor reports it).
        package = "gguf==0.19.0" if error.name == "gguf" else (error.name or "the missing package")
        print(
            f"lora_lens_trainer export: {error.name} is not installed in {sys.executable}; install it with "
            f"{sys.executable} -m pip install {package} (lora-lens doctor lists what is installed)",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("lora_lens_trainer export: interrupted; nothing was left half-written", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
