"""`python -m lora_lens_trainer evaluate --target DIR [...]`: the options, and the verb (the last stdout line is the
report as JSON; a problem is one sentence on stderr and exit 1)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="the tuned model against its base on an evaluation file: loss, perplexity and "
        "greedy answers (TARGET/eval/predictions.jsonl, report.json); the last stdout "
        "line is the report",
    )
    p.add_argument("--target", required=True, type=Path, help="a run folder (plan.json) or a PEFT adapter folder")
    p.add_argument(
        "--eval-file",
        type=_eval_file_arg,
        default=None,
        help="a file or hf://datasets/… (default: the run's data.eval)",
    )
    p.add_argument("--chat-template", default=None, help="auto, a named template or Jinja (default: the run's)")
    p.add_argument("--format", dest="data_format", default=None, choices=["chat", "instruction", "text"])
    p.add_argument("--max-length", type=int, default=None, help="tokens per example (default: the run's)")
    p.add_argument("--base-model", default=None, help="the base model (default: the plan's or adapter_config.json's)")
    p.add_argument("--out", type=Path, default=None, help="the folder to write (default TARGET/eval)")
    p.add_argument("--replace", action="store_true", help="replace an earlier evaluation's folder")
    p.add_argument("--rows", type=int, default=None, help="evaluate the first N rows only")
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument(
        "--temperature", type=float, default=0.0, help="0: greedy (default); above 0: sampling, seeded with --seed"
    )
    p.add_argument("--seed", type=int, default=0, help="the sampling seed (each model starts from it)")
    p.add_argument(
        "--no-stop-at-end-of-turn",
        dest="stop_at_end_of_turn",
        action="store_false",
        help="stop at EOS only, not at the chat template's end-of-turn token",
    )
    p.add_argument(
        "--general-text",
        type=Path,
        default=None,
        help="plain text (.txt, or rows with 'text') for the forgetting check: perplexity, tuned against base",
    )
    p.add_argument("--general-chunks", type=int, default=64, help="at most this many max-length chunks of it")


def _eval_file_arg(value: str) -> Path | str:
    """A file path, or a Hub dataset reference kept as written (a Path would fold its `//`)."""
    return value if value.startswith("hf://datasets/") else Path(value)


def _positive(args: argparse.Namespace) -> str | None:
    for name in ("rows", "max_length", "max_new_tokens", "batch_size", "general_chunks"):
        value = getattr(args, name)
        if value is not None and value < 1:
            return f"--{name.replace('_', '-')} must be at least 1; got {value}"
    return None


def run(args: argparse.Namespace) -> int:
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as error:
        print(
            f"lora_lens_trainer evaluate: {error.name} is not installed here; evaluate needs torch, transformers and "
            "peft (lora-lens doctor says what to install)",
            file=sys.stderr,
        )
        return 1
    from ..modeling import set_offline
    from . import EvalError
    from .run import EvalOptions, evaluate
    from .target import Overrides, resolve_target

    problem = _positive(args) or (
        f"--temperature must be 0 (greedy) or more; got {args.temperature}" if not args.temperature >= 0 else None
    )
    if problem:
        print(f"lora_lens_trainer evaluate: {problem}", file=sys.stderr)
        return 1
    set_offline()
    try:
        target = resolve_target(
            args.target.resolve(),
            Overrides(args.eval_file, args.chat_template, args.data_format, args.max_length, args.base_model),
        )
        report = evaluate(
            target,
            EvalOptions(
                args.out,
                args.replace,
                args.rows,
                args.max_new_tokens,
                args.batch_size,
                args.general_text,
                args.general_chunks,
                args.temperature,
                args.seed,
                args.stop_at_end_of_turn,
            ),
        )
    except EvalError as error:
        print(f"lora_lens_trainer evaluate: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lora_lens_trainer evaluate: interrupted; nothing was written", file=sys.stderr)
        return 1
    print(json.dumps(report, allow_nan=False))
    return 0
