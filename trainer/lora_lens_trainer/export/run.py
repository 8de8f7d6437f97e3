"""The export of one run folder: checks first (a finished run, a known architecture, a quantization type that can
be written, room on the disk), then the file, then what --verify needs. Returns the report the CLI prints as its
last stdout line."""

from __future__ import annotations

import json
import os
import re
import shutil
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

from . import ExportError, ExportReportError
from .architectures import architecture_of
from .target import check_target
from .weights import weight_source

FORMATS = ("gguf", "merged")


def default_out(run_dir: Path, fmt: str, quant: str, model_name: str) -> Path:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(model_name.rstrip("/")).name) or "model"
    if fmt == "merged":
        return run_dir / "export" / f"{stem}-merged"
    return run_dir / "export" / f"{stem}.{quant}.gguf"


def remove_dead_temporaries(target: Path) -> None:
    """What an export of `target` killed by SIGKILL (the OOM killer) left beside it: `.NAME.tmp-PID` (a GGUF file, or
    a merged folder with the shards written so far) and `.NAME.old-PID` (a merged folder moved aside; put back when
    NAME is missing). Only `target`'s own names, and only a dead PID's (a live one is another export's)."""
    folder = target.parent
    if not folder.is_dir():
        return
    for path in [
        *folder.glob(f".{glob_escape(target.name)}.tmp-*"),
        *folder.glob(f".{glob_escape(target.name)}.old-*"),
    ]:
        pid = path.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        if ".old-" in path.name[len(target.name) + 1 :]:
            if not target.exists() and not target.is_symlink():
                os.replace(path, target)
                continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def export_run(run_dir: Path, plan: Any, fmt: str, quant: str, out: Path | None, reference: bool) -> dict[str, Any]:
    from .tokenizer_meta import tokenizer_facts

    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: use gguf or merged")
    source = weight_source(run_dir, plan)
    source.device = _work_device()
    arch = architecture_of(source.config)
    target = out or default_out(run_dir, fmt, quant, plan.model.name_or_path)
    check_target(target, fmt, [run_dir, source.model_dir, source.tokenizer_dir])
    remove_dead_temporaries(target)
    report: dict[str, Any] = {"format": fmt, "method": plan.method, "architecture": arch.hf_name}
    if fmt == "merged":
        from .merged_folder import write_merged

        report.update(write_merged(source, target, plan.output.merge_dtype))
        return checked_report(report)
    from .gguf_file import check_quant, write_gguf
    from .modelfile import write_modelfile

    check_quant(quant)
    tokenizer = tokenizer_facts(source.tokenizer_dir, int(source.config["vocab_size"]))
    report.update(write_gguf(source, arch, tokenizer, quant, target, Path(plan.model.name_or_path).name))
    report["modelfile"] = str(write_modelfile(target, tokenizer))
    report["tokenizer"] = {
        "model": tokenizer.model,
        "pre": tokenizer.pre,
        "eot_token": tokenizer.eot_token,
        "eot_id": tokenizer.eot_id,
        "stop_tokens": tokenizer.stop_tokens,
        "chat_template": tokenizer.chat_template is not None,
    }
    if reference:
        report["reference"] = str(_write_reference(run_dir, plan, source.tokenizer_dir, target, tokenizer))
    return checked_report(report)


def checked_report(report: dict[str, Any]) -> dict[str, Any]:
    """The report, once it matches schemas/export-report.schema.json (lora-lens export and the editor check it too);
    raises ExportReportError otherwise. Without the schema file (a trainer copied out of the repository) as is."""
    from .. import schema_check

    found = schema_check.find_schema("export-report.schema.json")
    if found is None:
        return report
    problems = schema_check.errors(schema_check.load_schema(found), report)
    if problems:
        raise ExportReportError(f"the export report does not match {found.name}: {'; '.join(problems)}")
    return report


def _work_device() -> Any:
    """The GPU when there is one (QLoRA's 4-bit round trip of a 7B model takes minutes on the CPU), one tensor at a
    time and within LORA_LENS_GPU_MEMORY_LIMIT; else the CPU."""
    import torch

    from ..distributed import limit_memory

    if not torch.cuda.is_available():
        return None
    device = torch.device("cuda", 0)
    limit_memory(device)
    return device


def _write_reference(run_dir: Path, plan: Any, tokenizer_dir: Path, target: Path, tokenizer: Any) -> Path:
    from transformers import AutoTokenizer

    from ..atomic import write_text
    from .reference import torch_reference

    hf = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    stop_ids = sorted({i for i in [tokenizer.eot_id, hf.eos_token_id] if i is not None})
    path = target.with_name(target.name.removesuffix(".gguf") + ".reference.json")
    write_text(path, json.dumps(torch_reference(run_dir, plan, tokenizer_dir, stop_ids)))
    return path
