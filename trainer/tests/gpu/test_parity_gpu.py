"""The parity checks of tests/cpu at real sizes on the Triton path (vocabulary 151,936, sequence 2048): the
cross-entropy kernel with each logit transform, each head variant against the model's own forward(labels=...),
fp16-mixed LoRA gradients against fp32. Figures are printed (run with -s) and, when LORA_LENS_FIGURES names a
file, appended to it as JSON lines."""

from __future__ import annotations

import json
import os
import statistics

import pytest

torch = pytest.importorskip("torch", reason="needs torch")
if not torch.cuda.is_available():
    pytest.skip("needs a CUDA GPU; none is visible here", allow_module_level=True)

from lora_lens_trainer import ce_kernel  # noqa: E402
from lora_lens_trainer.collate import collate_padded  # noqa: E402
from lora_lens_trainer.data.tokenize import IGNORE, Example  # noqa: E402
from lora_lens_trainer.lora import inject, lora_modules  # noqa: E402
from lora_lens_trainer.loss import LogitTransform  # noqa: E402
from lora_lens_trainer.modeling import decoder_and_head  # noqa: E402
from lora_lens_trainer.scaler import LossScaler  # noqa: E402
from lora_lens_trainer.step import batch_loss  # noqa: E402
from tests.tiny_model import tiny_causal_lm  # noqa: E402

VOCAB, SEQ = 151_936, 2048
CUDA = torch.device("cuda")
needs_triton = pytest.mark.skipif(ce_kernel.triton is None, reason="triton does not import here")


def _record(check: str, **values: object) -> None:
    line = json.dumps({"check": check, **values})
    print(line)
    path = os.environ.get("LORA_LENS_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-30))


@needs_triton
@pytest.mark.parametrize(
    "transform",
    [LogitTransform(1 / 8.0), LogitTransform(0.0625), LogitTransform(1.0, 30.0), LogitTransform(2.0, 3.0)],
    ids=["granite", "cohere", "gemma2", "scale+cap"],
)
def test_kernel_with_each_transform_matches_autograd_on_bf16_logits(transform):
    torch.manual_seed(4)
    logits = (torch.randn(37, VOCAB, device="cuda") * 8).to(torch.bfloat16)
    targets = torch.randint(0, VOCAB, (37,), device="cuda")
    targets[0], targets[1] = 0, VOCAB - 1
    reference = logits.float().requires_grad_(True)
    z = reference * transform.multiplier
    if transform.softcap is not None:
        z = torch.tanh(z / transform.softcap) * transform.softcap
    expected = torch.nn.functional.cross_entropy(z, targets, reduction="none")
    (expected.sum() * 0.25).backward()
    work = logits.clone()
    rows = ce_kernel.cross_entropy_grad_(work, targets, 0.25, transform.multiplier, transform.softcap)
    loss_err = float((rows - expected.detach()).abs().max())
    grad_err = float((work.float() - reference.grad).abs().max())
    _record("kernel", transform=str(transform), loss_max_abs=loss_err, grad_max_abs=grad_err)
    assert torch.allclose(rows, expected.detach(), atol=1e-3, rtol=1e-4)
    # One bf16 rounding of a gradient entry bounded by 0.25 · multiplier.
    assert grad_err < 0.25 * max(1.0, transform.multiplier) * 2**-8


def _examples(n_rows: int, seed: int, vocab: int = VOCAB, length: int = SEQ) -> list[Example]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n_rows):
        n = length - 97 * i  # uneven: padding in all but the longest row
        ids = torch.randint(3, vocab, (n,), generator=gen).tolist()
        out.append(Example(ids, [IGNORE] * 64 + ids[64:]))
    return out


def _hf_inputs(examples: list[Example]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded input ids, attention mask and labels (IGNORE on padding) as transformers takes them."""
    batch = collate_padded(examples, 0).to(CUDA)
    labels = torch.full_like(batch.input_ids, IGNORE)
    mask = torch.zeros_like(batch.input_ids)
    for row, e in enumerate(examples):
        labels[row, : len(e.labels)] = torch.tensor(e.labels, device=CUDA)
        mask[row, : len(e.input_ids)] = 1
    return batch.input_ids, mask, labels


def _hf_loss(model, examples: list[Example]) -> torch.Tensor:
    ids, mask, labels = _hf_inputs(examples)
    return model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False).loss


@needs_triton
@pytest.mark.parametrize("arch", ["llama", "phi", "granite", "cohere", "gemma2"])
def test_head_variant_at_real_size_equals_the_models_own_loss(arch, monkeypatch):
    monkeypatch.setenv("LORA_LENS_TORCH_CE", "0")
    torch.backends.cuda.matmul.allow_tf32 = False
    model = tiny_causal_lm(
        arch, vocab=VOCAB, seed=1, hidden_size=256, intermediate_size=512, max_position_embeddings=SEQ
    ).to(CUDA)
    if arch == "gemma2":
        torch.nn.init.normal_(model.lm_head.weight, std=0.5)
    body, head = decoder_and_head(model)
    examples = _examples(2, seed=2)
    batch = collate_padded(examples, 0).to(CUDA)
    attn = "eager" if arch == "gemma2" else "sdpa"
    ours = batch_loss(body, head, batch, float(batch.n_targets), CUDA, None, attn)
    ours.backward()
    our_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    theirs = _hf_loss(model, examples)
    theirs.backward()
    their_grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    loss_rel = abs(float(ours.detach()) - float(theirs.detach())) / float(theirs.detach())
    grad_rel = max(_relative(our_grads[n], their_grads[n]) for n in their_grads)
    with torch.no_grad():
        bare = float(batch_loss(body, _bare(head), batch, float(batch.n_targets), CUDA, None, attn))
    _record(
        "head",
        arch=arch,
        vocab=VOCAB,
        seq=SEQ,
        loss=float(theirs.detach()),
        loss_rel=loss_rel,
        grad_rel_max=grad_rel,
        bare_weight_loss_rel=abs(bare - float(theirs.detach())) / float(theirs.detach()),
    )
    assert loss_rel < 1e-5
    assert grad_rel < 1e-4


def _bare(head):
    """The head's weight alone, as the fused loss used it before bias and transforms were modelled."""
    linear = torch.nn.Linear(head.weight.shape[1], head.weight.shape[0], bias=False, device=head.weight.device)
    linear.weight = head.weight
    return linear


def _lora_base() -> torch.nn.Module:
    model = tiny_causal_lm(
        "llama", vocab=VOCAB, seed=3, hidden_size=256, intermediate_size=512, max_position_embeddings=SEQ
    )
    gen = torch.Generator().manual_seed(4)
    # A common direction across the head's rows, as trained heads have (see tests/cpu/test_fp16.py).
    model.lm_head.weight.data += torch.randn(model.lm_head.weight.shape[1], generator=gen) * 0.1
    return model


def _lora_model(base: torch.nn.Module) -> torch.nn.Module:
    inject(base, "all-linear", 16, 32.0, 0.0, False)
    gen = torch.Generator().manual_seed(5)
    for m in lora_modules(base).values():
        m.lora_B.data.normal_(0.0, 0.05, generator=gen)
    return base.to(CUDA)


def _peft_fp16_amp_grads(
    base: torch.nn.Module, ours: torch.nn.Module, micro_examples
) -> dict[str, torch.Tensor] | None:
    """transformers + PEFT's fp16 AMP recipe (the HF Trainer's: autocast fp16, GradScaler, num_items_in_batch) from
    the same weights, for comparison; None where PEFT is not installed."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        return None
    model = get_peft_model(
        base, LoraConfig(r=16, lora_alpha=32.0, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    ).to(CUDA)
    mine = lora_modules(ours)
    for name, module in model.base_model.model.named_modules():
        if name in mine:
            module.lora_A["default"].weight.data.copy_(mine[name].lora_A.data)
            module.lora_B["default"].weight.data.copy_(mine[name].lora_B.data)
    scaler = torch.amp.GradScaler(CUDA.type)
    num_items = sum(sum(1 for label in e.labels[1:] if label != IGNORE) for rows in micro_examples for e in rows)
    for rows in micro_examples:
        ids, mask, labels = _hf_inputs(rows)
        with torch.autocast(CUDA.type, dtype=torch.float16):
            loss = model(
                input_ids=ids,
                attention_mask=mask,
                labels=labels,
                use_cache=False,
                num_items_in_batch=torch.tensor(num_items, device=CUDA),
            ).loss
        scaler.scale(loss).backward()
    inv = 1.0 / scaler.get_scale()
    out = {}
    for name, module in model.base_model.model.named_modules():
        if name in mine:
            out[f"{name}.lora_A"] = module.lora_A["default"].weight.grad * inv
            out[f"{name}.lora_B"] = module.lora_B["default"].weight.grad * inv
    return out


def _lora_grads(model, micro, autocast, scaler: LossScaler) -> dict[str, torch.Tensor]:
    """One accumulated step's unscaled LoRA gradients; on an overflow the step is redone at the backed-off scale,
    as the loop's skipped step would be followed by the next one."""
    body, head = decoder_and_head(model)
    params = [p for p in model.parameters() if p.requires_grad]
    denominator = float(sum(b.n_targets for b in micro))
    for _ in range(8):
        for p in params:
            p.grad = None
        for b in micro:
            batch_loss(body, head, b, denominator, CUDA, autocast, "sdpa", loss_scale=scaler.scale).backward()
        found_inf = scaler.unscale_and_check(params)
        scaler.update(found_inf)
        if not found_inf:
            return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    raise AssertionError(f"gradients overflowed down to loss scale {scaler.scale}")


@pytest.mark.parametrize("path", ["triton", "torch"])
def test_fp16_mixed_lora_gradients_at_real_size_near_fp32_and_no_worse_than_peft(path, monkeypatch):
    if path == "triton" and ce_kernel.triton is None:
        pytest.skip("triton does not import here")
    monkeypatch.setenv("LORA_LENS_TORCH_CE", "1" if path == "torch" else "0")
    torch.backends.cuda.matmul.allow_tf32 = False
    import copy

    base = _lora_base()
    peft_base = copy.deepcopy(base)
    model = _lora_model(base)
    micro_examples = [_examples(2, seed=s) for s in (5, 6)]  # two micro-batches, ~7.8k targets
    micro = [collate_padded(rows, 0).to(CUDA) for rows in micro_examples]
    fp32 = _lora_grads(model, micro, None, LossScaler(False))
    scaler = LossScaler(True)
    scaled = [_relative(g, fp32[n]) for n, g in _lora_grads(model, micro, torch.float16, scaler).items()]
    unscaled = [_relative(g, fp32[n]) for n, g in _lora_grads(model, micro, torch.float16, LossScaler(False)).items()]
    peft = _peft_fp16_amp_grads(peft_base, model, micro_examples) if path == "triton" else None
    peft_errors = None
    if peft is not None:
        assert peft.keys() == fp32.keys()
        peft_errors = [_relative(peft[k], fp32[k]) for k in peft]
    _record(
        "fp16-mixed",
        path=path,
        vocab=VOCAB,
        seq=SEQ,
        targets=sum(b.n_targets for b in micro),
        tensors=len(fp32),
        metric="relative L2 per LoRA tensor vs fp32",
        loss_scale=scaler.scale,
        scaled_median=statistics.median(scaled),
        scaled_max=max(scaled),
        unscaled_median=statistics.median(unscaled),
        unscaled_max=max(unscaled),
        peft_fp16_amp_median=None if peft_errors is None else statistics.median(peft_errors),
        peft_fp16_amp_max=None if peft_errors is None else max(peft_errors),
    )
    # The CPU test holds 1% at vocab 102k; here, at 2048 tokens a row, the fp16 forward itself adds rounding:
    # within 2%, and no worse than 1.5x transformers + PEFT's own fp16 AMP recipe where PEFT is installed.
    assert max(scaled) < 0.02
    if peft_errors is not None:
        assert max(scaled) <= 1.5 * max(peft_errors) + 1e-3
