"""What the exported file must reproduce, computed with torch independently of the exporter's own merge: the base
through transformers (for QLoRA round-tripped through 4-bit as the merge does), the adapter through PEFT as
separate modules, everything in fp32. On a chat prompt it records, per prompt position, the top tokens' log-
probabilities (log-softmax, so the constant shift llama.cpp's softmax drops cancels), and the greedy continuation
up to the end-of-turn token. `lora-lens export --verify` (TypeScript, through llama.cpp) compares against it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PROMPT = "What is the capital of France?"
TOP_K = 64
GREEDY_STEPS = 32


def _model(run_dir: Path, plan: Any, device: Any) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    from ..merge import _round_trip_4bit, _start_backend
    from ..modeling import precision_dtypes
    from .weights import resolve_model_dir

    if plan.method == "full":
        return AutoModelForCausalLM.from_pretrained(run_dir / "model", dtype=torch.float32).to(device).eval()
    from peft import PeftModel

    base_dir = resolve_model_dir(plan.model.name_or_path, plan.model.revision)
    dequantized = plan.method == "qlora" and getattr(plan.output, "merge_base", "dequantized") == "dequantized"
    load_dtype = precision_dtypes(plan)[0] if dequantized else torch.float32
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=load_dtype, local_files_only=True)
    if dequantized:
        _round_trip_4bit(base, plan, _start_backend(run_dir) or "builtin-nf4", device)
    base = base.to(device=device, dtype=torch.float32)
    return PeftModel.from_pretrained(base, str(run_dir / "adapter")).eval()


def torch_reference(
    run_dir: Path, plan: Any, tokenizer_dir: Path, stop_ids: list[int], prompt: str = PROMPT
) -> dict[str, Any]:
    import torch
    from transformers import AutoTokenizer

    device = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    if tokenizer.chat_template:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    else:
        text = prompt
        ids = tokenizer(text)["input_ids"]
    model = _model(run_dir, plan, device)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids], device=device)).logits[0].float().cpu()
        logprobs = torch.log_softmax(logits, dim=-1)
        top = logprobs.topk(min(TOP_K, logprobs.shape[-1]), dim=-1)
        greedy = _greedy(model, ids, stop_ids, device)
    return {
        "prompt": prompt,
        "prompt_text": text,
        "prompt_ids": ids,
        "top_ids": top.indices.tolist(),
        "top_logprobs": top.values.tolist(),
        "greedy_ids": greedy,
        "stop_ids": stop_ids,
        "stopped": bool(greedy) and greedy[-1] in stop_ids,
        "device": str(device),
        "dtype": "float32",
    }


def _greedy(model: Any, ids: list[int], stop_ids: list[int], device: Any) -> list[int]:
    """Greedy tokens after the prompt, the stop token included when reached (no KV cache: plain and exact)."""
    import torch

    seq = list(ids)
    out: list[int] = []
    for _ in range(GREEDY_STEPS):
        logits = model(input_ids=torch.tensor([seq], device=device)).logits[0, -1]
        token = int(logits.argmax())
        out.append(token)
        seq.append(token)
        if token in stop_ids:
            break
    return out
