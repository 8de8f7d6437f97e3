"""`merge`: the adapter folded into the base weights through PEFT, saved as safetensors shards with the
tokenizer, and checked: the merged model's logits against the adapter model's on a probe batch."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from .atomic import staged_dir, write_json
from .plan import TrainingPlan

log = logging.getLogger("lora_lens_trainer")


def _probe(tokenizer: Any, vocab: int, device: Any) -> Any:
    import torch

    text = "The quick brown fox jumps over the lazy dog. 12 + 30 = 42."
    ids = tokenizer(text, add_special_tokens=True)["input_ids"]
    gen = torch.Generator().manual_seed(0)
    rand = torch.randint(0, vocab, (1, 48), generator=gen)
    probe = torch.tensor([ids[:48] + [tokenizer.pad_token_id or 0] * max(0, 48 - len(ids))])
    return torch.cat([probe, rand]).to(device)


def merge(run_dir: Path, plan: TrainingPlan) -> dict[str, Any]:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .modeling import DTYPES, set_offline

    set_offline()
    adapter = run_dir / "adapter"
    if not (adapter / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{adapter}: no adapter to merge (train first, or method is full)")
    device = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    dtype = DTYPES[plan.output.merge_dtype]
    ref = plan.model
    # QLoRA too: the base is reloaded unquantized in merge_dtype, so the merged weights carry no 4-bit error.
    base = AutoModelForCausalLM.from_pretrained(ref.name_or_path, dtype=dtype, revision=ref.revision,
                                                trust_remote_code=ref.trust_remote_code, local_files_only=True,
                                                attn_implementation=ref.attn_implementation).to(device)
    tokenizer = AutoTokenizer.from_pretrained(adapter, local_files_only=True)
    model = PeftModel.from_pretrained(base, str(adapter)).eval()
    probe = _probe(tokenizer, base.config.vocab_size, device)
    with torch.no_grad():
        before = model(input_ids=probe).logits.float()
        merged = model.merge_and_unload()
        after = merged(input_ids=probe).logits.float()
    diff = float((before - after).abs().max())
    scale = float(before.abs().max())
    final = run_dir / "merged"
    with staged_dir(final) as tmp:
        merged.save_pretrained(tmp, safe_serialization=plan.output.safe_serialization, max_shard_size="5GB")
        tokenizer.save_pretrained(tmp)
        report = {"merged_path": str(final), "merge_dtype": plan.output.merge_dtype, "probe_tokens": int(probe.numel()),
                  "max_abs_logit_diff": diff, "max_abs_logit": scale}
        write_json(tmp / "merge_report.json", report)
    log.info("merge: max |logit difference| %.4g (logits up to %.4g)", diff, scale)
    return report
