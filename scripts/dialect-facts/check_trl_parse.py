"""Parse TRL recipes as `trl <command> --config FILE` does, without launching anything.

    python scripts/dialect-facts/check_trl_parse.py sft|dpo FILE [FILE ...]

Prints one JSON line per file: {"path", "ok", "error"}. The steps are those of trl/cli/commands/training.py: TrlParser
over ScriptArguments, SFTConfig/DPOConfig, ModelConfig and DatasetMixtureConfig with the config's keys as defaults;
the keys none of them takes go to `accelerate launch`'s parser, which stops on any it does not know. TrainingArguments'
check that bf16 runs on this machine's GPU is skipped: the recipes are judged as on the machine they are written for.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys

import transformers.training_args as training_args

training_args.TrainingArguments._validate_args = lambda self: None  # the hardware checks only (bf16 on a GPU, ...)

from accelerate.commands.launch import launch_command_parser  # noqa: E402
from trl.cli.accelerate_config import resolve_accelerate_config_argument  # noqa: E402


def check(command: str, path: str) -> dict[str, object]:
    parser = importlib.import_module(f"trl.scripts.{command}").make_parser(prog=f"trl {command}")
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            *_, config_remaining, cli_remaining = parser.parse_args_and_config(
                ["--config", path], return_remaining_strings=True, separate_remaining_strings=True
            )
            launch_args = resolve_accelerate_config_argument(config_remaining + cli_remaining)
            launch_command_parser().parse_args(launch_args + [f"{command}.py", "--config", path])
    except SystemExit:
        lines = stderr.getvalue().strip().splitlines()
        return {"path": path, "ok": False, "error": lines[-1] if lines else "argparse exited"}
    except Exception as error:  # a dataclass's own check (__post_init__)
        return {"path": path, "ok": False, "error": f"{type(error).__name__}: {error}"}
    return {"path": path, "ok": True, "error": None}


def main() -> int:
    command, paths = sys.argv[1], sys.argv[2:]
    if command not in ("sft", "dpo"):
        print("usage: check_trl_parse.py sft|dpo FILE [FILE ...]", file=sys.stderr)
        return 2
    for path in paths:
        print(json.dumps(check(command, path)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
