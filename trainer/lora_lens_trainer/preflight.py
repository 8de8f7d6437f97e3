"""`run --dry-run`: everything the trainer would refuse at start, checked without starting it.

Reads and validates the plan (plan.py), then checks it against schemas/trainer-capabilities.json (methods, precision,
data formats, the refused LoRA combinations, the modules that cannot be targeted), the chat template name, and the
dataset files where they are local (readable, each row of the shape data.format needs, each chat row accepted by the
named template). Standard library only, so it runs where torch is not installed; with jinja2 present the chat rows are
rendered as transformers renders them. Writes nothing.
"""

from __future__ import annotations

import importlib.util
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import schema_check
from .data.clean import clean_rows
from .data.readers import DataError, read_rows
from .data.templates import NAMED, is_jinja, render_without_tokenizer, structural_problem, unknown_name_message
from .data.tokenize import check_messages
from .plan import PlanError, TrainingPlan, read_plan

CAPABILITIES = "trainer-capabilities.json"
# Problems reported per dataset file before the rest are summed up.
MAX_ROW_PROBLEMS = 5


class CapabilitiesError(RuntimeError):
    pass


@lru_cache(maxsize=1)
def capabilities() -> dict[str, Any]:
    """schemas/trainer-capabilities.json, checked against its schema."""
    found = schema_check.find_schema(CAPABILITIES)
    schema = schema_check.find_schema("trainer-capabilities.schema.json")
    if found is None or schema is None:
        raise CapabilitiesError(f"{schema_check.schema_dir() / CAPABILITIES} or its schema is missing")
    value = json.loads(found.read_text(encoding="utf-8"))
    problems = schema_check.errors(schema_check.load_schema(schema), value)
    if problems:
        raise CapabilitiesError(f"{found} does not match its schema: {'; '.join(problems)}")
    return value


def plan_value(raw: dict[str, Any], path: str) -> Any:
    value: Any = raw
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def refusals(raw: dict[str, Any], installed: Any = None) -> list[str]:
    """The capabilities file's refusals that apply to this plan (a decoded, schema-valid plan.json)."""
    has = installed or (lambda name: importlib.util.find_spec(name) is not None)
    out = []
    for r in capabilities()["refusals"]:
        if not all(plan_value(raw, path) in values for path, values in r["when"].items()):
            continue
        if "unless_installed" in r and has(r["unless_installed"]):
            continue
        fix = ", ".join(f"{k}: {json.dumps(v)}" for k, v in r["fix"].items())
        out.append(f"{r['message']}; set {fix}")
    return out


def _listed(raw: dict[str, Any], path: str, allowed: list[str], what: str) -> list[str]:
    value = plan_value(raw, path)
    if value in allowed:
        return []
    return [f"{path}: {value!r} is not supported by the bundled trainer ({what}: {', '.join(allowed) or 'none'})"]


def target_problems(plan: TrainingPlan) -> list[str]:
    """Targets the trainer refuses whatever the model: the output head and the embeddings (by their usual names),
    and a pattern that is not a regular expression. The model-specific check (a name that matches nothing, a
    non-linear module) needs the model and stays with the trainer and the language server's rule."""
    if plan.lora is None or plan.method == "full":
        return []
    caps = capabilities()["lora"]["target_modules"]
    targets = plan.lora.target_modules
    heads, embeddings = caps["output_head_names"], caps["embedding_names"]
    if isinstance(targets, str):
        if targets.lower() == "all-linear":
            return []
        try:
            pattern = re.compile(targets)
        except re.error as error:
            return [f"lora.target_modules {targets!r} is not a valid regular expression: {error}"]
        names = [f"{prefix}{n}" for n in heads + embeddings for prefix in ("", "model.", "transformer.", "gpt_neox.")]
        hit = [n for n in names if pattern.fullmatch(n)]
        return (
            [
                f"lora.target_modules {targets!r} selects {hit[0]!r}: the bundled trainer adapts neither the output "
                "head nor the embeddings; narrow the pattern to linear layers"
            ]
            if hit
            else []
        )
    out = []
    for entry in targets:
        last = entry.rsplit(".", 1)[-1]
        if last in heads:
            out.append(
                f"lora.target_modules: {entry!r} is the output head, which the bundled trainer's fused loss "
                "reads directly and cannot adapt; remove it"
            )
        elif last in embeddings:
            out.append(
                f"lora.target_modules: {entry!r} is an embedding, not a linear layer: the bundled trainer "
                "adapts linear layers only; remove it"
            )
    return out


def template_problems(plan: TrainingPlan) -> list[str]:
    d = plan.data
    if d.format != "chat":
        return []
    setting = d.chat_template
    if setting == "auto":
        return _auto_template_problems(plan)
    if setting in NAMED or is_jinja(setting):
        return []
    return [unknown_name_message(setting)]


def _auto_template_problems(plan: TrainingPlan) -> list[str]:
    """A local model folder whose tokenizer has no chat template (the trainer stops with 'no chat template')."""
    folder = Path(plan.model.name_or_path)
    config = folder / "tokenizer_config.json"
    if not config.is_file():
        return []  # a Hub id, or a folder without a tokenizer: the trainer's own loading reports it
    try:
        has = bool(json.loads(config.read_text(encoding="utf-8")).get("chat_template"))
    except (OSError, ValueError):
        return []
    if has or (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return []
    return [
        f"data.chat_template auto: the tokenizer in {folder} has no chat template; name one "
        f"({', '.join(NAMED)}) or give inline Jinja"
    ]


def _is_local(path: str) -> bool:
    return "://" not in path


def data_problems(plan: TrainingPlan) -> list[str]:
    d = plan.data
    out: list[str] = []
    for what, path in (("data.train", d.train), ("data.eval", d.eval)):
        if path is None or not _is_local(path):
            continue
        try:
            rows, _ = clean_rows(read_rows(path), dedupe=d.dedupe, html_strip=d.strip_html)
        except DataError as error:
            out.append(f"{what}: {error}")
            continue
        if not rows and what == "data.train":
            out.append(f"{what}: {path}: no rows")
        found = [p for p in (_row_problem(plan, row, i) for i, row in enumerate(rows)) if p]
        out.extend(f"{what}: {path}: {p}" for p in found[:MAX_ROW_PROBLEMS])
        if len(found) > MAX_ROW_PROBLEMS:
            out.append(f"{what}: {path}: and {len(found) - MAX_ROW_PROBLEMS} more rows like these")
    return out


def _row_problem(plan: TrainingPlan, row: dict[str, Any], index: int) -> str | None:
    d = plan.data
    if d.format != "chat":
        keys = ("prompt", "completion") if d.format == "instruction" else ("text",)
        missing = [k for k in keys if not isinstance(row.get(k), str)]
        return (
            f"row {index}: field {missing[0]!r} must be a string (data.format {d.format} needs it)" if missing else None
        )
    try:
        messages = check_messages(row.get("messages"), index)
    except DataError as error:
        return str(error)
    if not d.train_on_prompt and not any(m["role"] == "assistant" for m in messages):
        return f"row {index}: no assistant message to train on"
    setting = d.chat_template
    if setting in NAMED:
        problem = structural_problem(setting, messages)
        if problem:
            return f"row {index}: {problem}"
    jinja = NAMED[setting].jinja if setting in NAMED else setting if is_jinja(setting) else None
    if jinja is not None:
        try:
            render_without_tokenizer(jinja, messages, False)
        except DataError as error:
            return f"row {index}: {error}"
    return None


def check(plan_path: Path) -> list[str]:
    """Every problem that would stop `run` at start; empty when it would start."""
    try:
        plan = read_plan(plan_path)
    except PlanError as error:
        return [str(error)]
    raw = json.loads(Path(plan_path).read_text(encoding="utf-8"))
    caps = capabilities()
    problems = _listed(raw, "method", caps["methods"], "methods")
    problems += _listed(raw, "precision", caps["precision"], "precision modes")
    problems += _listed(raw, "data.format", caps["data_formats"], "data formats")
    problems += refusals(raw)
    problems += target_problems(plan)
    problems += template_problems(plan)
    problems += data_problems(plan)
    return problems


def dry_run(plan_path: Path) -> int:
    """Prints {"ok": true} or {"ok": false, "problems": [...]} as one line; returns the exit code (0 or 1)."""
    try:
        problems = check(plan_path)
    except CapabilitiesError as error:
        problems = [f"the trainer's capabilities file: {error}"]
    print(json.dumps({"ok": True} if not problems else {"ok": False, "problems": problems}))
    return 0 if not problems else 1
