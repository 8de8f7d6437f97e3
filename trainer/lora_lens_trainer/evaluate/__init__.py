"""`evaluate`: a fine-tuned model against its base on an evaluation file (docs/metrics.md, issue 24).

TARGET is a run folder of ours (plan.json + adapter/ or model/) or any PEFT adapter folder (adapter_config.json +
adapter_model.safetensors: axolotl's and LLaMA-Factory's output_dir included). For an adapter the base is the same
weights with the adapter disabled (no second load). Written to TARGET/eval/ (or --out), all at once:
predictions.jsonl (one line per prompt: prompt, reference, base, tuned) and report.json (loss and perplexity on the
evaluation file for both, generation figures, the forgetting check). The task metrics are computed from
predictions.jsonl by `lora-lens eval` / `lora-lens metrics` in TypeScript, so CI scores them without a GPU."""

from __future__ import annotations


class EvalError(RuntimeError):
    """What is wrong with the target, the files or the options, and what to do; the verb prints it and exits 1."""
