"""The `evaluate` verb: both models over the evaluation file (loss, then generation), the forgetting check, and
TARGET/eval/ written in one rename (predictions.jsonl + report.json), never half."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..export.tokenizer_meta import EOT_TOKENS
from . import EvalError
from .target import EvalTarget

log = logging.getLogger("lora_lens_trainer")

# The seeds accept about this much perplexity growth on general text before calling it forgetting.
FORGETTING_THRESHOLD_PERCENT = 5.0


@dataclass(frozen=True)
class EvalOptions:
    out: Path | None = None
    replace: bool = False
    rows: int | None = None
    max_new_tokens: int = 128
    batch_size: int = 8
    general_text: Path | None = None
    general_chunks: int = 64
    # 0: greedy decoding; above 0, sampling at this temperature, each model seeded with `seed`.
    temperature: float = 0.0
    seed: int = 0
    stop_at_end_of_turn: bool = True


# What an evaluation folder holds (predictions and report here, metrics.json from the CLI): --replace replaces a
# folder of these alone, since the new one takes the whole folder's place (atomic.staged_dir).
EVAL_FILES = frozenset({"predictions.jsonl", "report.json", "metrics.json"})


def out_folder(target: EvalTarget, options: EvalOptions) -> Path:
    out = options.out or target.folder / "eval"
    if out.resolve() == target.folder.resolve() or out.resolve() in target.folder.resolve().parents:
        raise EvalError(f"--out {out} is or holds {target.folder}, which is being evaluated; name a new folder")
    stray = sorted(p.name for p in out.iterdir() if p.name not in EVAL_FILES) if out.is_dir() else []
    if stray or (out.exists() and not out.is_dir()):
        shown = ", ".join(stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
        raise EvalError(
            f"{out} holds files an evaluation did not write ({shown or 'it is a file'}), and the evaluation "
            "replaces its folder whole; name a new folder with --out"
        )
    if out.exists() and not options.replace:
        raise EvalError(
            f"{out} exists already (an earlier evaluation); pass --replace to evaluate again (it is "
            "replaced only once the new one is complete), or --out FOLDER"
        )
    return out


def stop_tokens(tokenizer: Any, template: str | None, end_of_turn: bool = True) -> tuple[list[int], list[str]]:
    """EOS and (unless end_of_turn is off) the template's end-of-turn token, as ids and as text."""
    names = [t for t in EOT_TOKENS if end_of_turn and template and t in template]
    if tokenizer.eos_token:
        names.append(tokenizer.eos_token)
    ids: list[int] = []
    kept: list[str] = []
    for name in dict.fromkeys(names):
        token_id = tokenizer.convert_tokens_to_ids(name)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id and token_id not in ids:
            ids.append(token_id)
            kept.append(name)
    return ids, kept


def _template(tokenizer: Any, target: EvalTarget) -> tuple[str | None, str]:
    """(the Jinja text, where it came from) for a chat evaluation file."""
    from ..data.templates import NAMED, is_jinja

    setting = target.chat_template
    if setting in NAMED:
        return NAMED[setting].jinja, f"named template {setting}"
    if is_jinja(setting):
        return setting, "the configured Jinja template"
    own = getattr(tokenizer, "chat_template", None)
    if isinstance(own, str) and own:
        source = (
            "the tokenizer's own"
            if setting == "auto"
            else f"the tokenizer's own ({setting!r} is not a template the trainer names)"
        )
        return own, source
    if target.data_format != "chat":
        return None, "none (not a chat file)"
    raise EvalError(
        f"the evaluation file is chat but {target.tokenizer_source} has no chat template and "
        f"{setting!r} names none: pass --chat-template (a name: {', '.join(NAMED)}; or inline Jinja)"
    )


def _forgetting(base: Any, tuned: Any) -> dict[str, Any]:
    change = (tuned.perplexity - base.perplexity) / base.perplexity * 100 if math.isfinite(base.perplexity) else None
    return {
        "base": base.as_dict(),
        "tuned": tuned.as_dict(),
        "change_percent": change,
        "threshold_percent": FORGETTING_THRESHOLD_PERCENT,
        "passed": change is not None and change <= FORGETTING_THRESHOLD_PERCENT,
    }


def _one_model(
    model: Any,
    tokenizer: Any,
    scored: list[Any],
    general: list[Any] | None,
    prompts: list[Any],
    stop_ids: list[int],
    options: EvalOptions,
    device: Any,
) -> tuple[dict[str, Any], list[str]]:
    """One model's loss (and general-text loss), and its answer to every prompt with the generation figures."""
    from . import compute

    pad = tokenizer.pad_token_id
    phase: dict[str, Any] = {"eval": compute.loss(model, scored, options.batch_size, pad, device)}
    if general:
        phase["general"] = compute.loss(model, general, options.batch_size, pad, device)
    gen = compute.generate(
        model,
        [p.input_ids for p in prompts],
        stop_ids,
        options.max_new_tokens,
        options.batch_size,
        pad,
        device,
        compute.Sampling(options.temperature, options.seed),
    )
    phase["generation"] = {
        "tokens": gen.tokens,
        "seconds": gen.seconds,
        "stopped": sum(gen.stopped),
        "tokens_per_second": gen.tokens / gen.seconds if gen.seconds > 0 else None,
    }
    return phase, [tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in gen.token_ids]


def evaluate(target: EvalTarget, options: EvalOptions) -> dict[str, Any]:
    """Runs everything, writes TARGET/eval/ (or options.out) and returns the report."""
    from . import examples, models

    out = out_folder(target, options)
    device, dtype = models.device_and_dtype()
    tokenizer = models.load_tokenizer(target)
    template, template_source = _template(tokenizer, target)
    rows = examples.read_eval_rows(target.eval_file, options.rows)
    scored = examples.loss_examples(
        rows, tokenizer, target.data_format, target.chat_template if template is None else template, target.max_length
    )
    prompts = examples.prompts(rows, tokenizer, target.data_format, template, target.max_length)
    general = (
        examples.general_text_chunks(options.general_text, tokenizer, target.max_length, options.general_chunks)
        if options.general_text
        else None
    )
    stop_ids, stop_names = stop_tokens(tokenizer, template, options.stop_at_end_of_turn)
    figures: dict[str, dict[str, Any]] = {}
    answers: dict[str, list[str]] = {}
    for name, model in models.phases(target, device, dtype):
        log.info("evaluate: %s model: loss over %d rows, %d answers", name, len(scored), len(prompts))
        figures[name], answers[name] = _one_model(model, tokenizer, scored, general, prompts, stop_ids, options, device)
    lines = [
        {
            "row": p.row,
            "prompt": p.text,
            "reference": p.reference,
            "base": answers["base"][k],
            "tuned": answers["tuned"][k],
        }
        for k, p in enumerate(prompts)
    ]
    report = {
        "target": str(target.folder),
        "kind": target.kind,
        "base_model": target.base_model,
        "adapter": str(target.adapter) if target.adapter else None,
        "tuned_model": str(target.tuned_model) if target.tuned_model else None,
        "base_weights": models.base_weights(target, device),
        "eval_file": str(target.eval_file),
        "format": target.data_format,
        "chat_template": template_source,
        "rows": len(rows),
        "prompts": len(prompts),
        "device": str(device),
        "dtype": str(dtype).removeprefix("torch."),
        "loss": {name: figures[name]["eval"].as_dict() for name in ("base", "tuned")},
        "generation": {
            "max_new_tokens": options.max_new_tokens,
            "batch_size": options.batch_size,
            "greedy": options.temperature == 0,
            "temperature": options.temperature,
            "seed": options.seed if options.temperature > 0 else None,
            "stop_tokens": stop_names,
            **{name: figures[name]["generation"] for name in ("base", "tuned")},
        },
        "forgetting": (
            {"file": str(options.general_text), **_forgetting(figures["base"]["general"], figures["tuned"]["general"])}
            if general
            else None
        ),
        "out": str(out),
        "predictions": str(out / "predictions.jsonl"),
    }
    report = json_safe(report)
    _write(out, lines, report)
    return report


def json_safe(value: Any) -> Any:
    """`value` with null for every float that is not finite: a diverged model's NaN loss and infinite perplexity
    would be written bare (NaN, Infinity), which is not JSON, and lora-lens eval and the run panel could not parse
    the report."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def _write(out: Path, lines: list[dict[str, Any]], report: dict[str, Any]) -> None:
    from ..atomic import staged_dir, write_json, write_text

    with staged_dir(out) as tmp:
        write_text(tmp / "predictions.jsonl", "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
        write_json(tmp / "report.json", report)
