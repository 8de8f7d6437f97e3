"""The trainer's numerical pieces against plain references: NF4, fused cross-entropy, fused LoRA, packing, labels."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="needs torch")
if not torch.cuda.is_available():
    pytest.skip("needs a CUDA GPU; none is visible here", allow_module_level=True)

from lora_lens_trainer import nf4  # noqa: E402
from lora_lens_trainer.loss import fused_linear_cross_entropy, reference_cross_entropy  # noqa: E402


def _nf4_reference(w: torch.Tensor) -> torch.Tensor:
    """NF4 in float64 on the CPU, written from the paper, without double quantization."""
    code = torch.tensor(nf4.NF4_CODE, dtype=torch.float64)
    blocks = w.double().cpu().reshape(-1, 64)
    absmax = blocks.abs().amax(dim=1, keepdim=True)
    normalized = blocks / absmax
    idx = (normalized.unsqueeze(-1) - code).abs().argmin(dim=-1)
    return (code[idx] * absmax).reshape(w.shape)


def test_nf4_matches_the_float64_reference_and_its_error_bounds():
    torch.manual_seed(1)
    w = (torch.randn(1024, 512, device="cuda") * 0.02).to(torch.bfloat16)
    ref = _nf4_reference(w.float())
    single = nf4.dequantize(nf4.quantize(w, double_quant=False), torch.float32).double().cpu()
    # Same levels chosen: equal up to ties at a midpoint (rare, one level apart).
    mismatch = (single - ref).abs() > 1e-6
    assert mismatch.float().mean() < 1e-3
    double = nf4.dequantize(nf4.quantize(w, double_quant=True), torch.float32).double().cpu()
    wf = w.double().cpu()
    blocks_absmax = wf.reshape(-1, 64).abs().amax(dim=1, keepdim=True)
    # Nearest level: the error is at most half the widest gap between NF4 levels (-1 to -0.696) times the
    # block's absmax, plus the absmax's own 8-bit error (well under 1% of it).
    half_gap = float(torch.tensor(nf4.NF4_CODE).diff().max()) / 2
    bound = (half_gap * blocks_absmax + blocks_absmax * 0.01).expand(-1, 64).reshape(w.shape)
    assert bool(((double - wf).abs() <= bound).all())
    rel = float((double - wf).norm() / wf.norm())
    assert 0.03 < rel < 0.12, rel  # NF4 on Gaussian weights: about 0.09 relative error
    assert float((double - single).norm() / wf.norm()) < 0.01  # double quantization adds little


def test_nf4_linear_forward_and_backward_match_the_dequantized_weight():
    torch.manual_seed(2)
    lin = torch.nn.Linear(256, 384, bias=False).cuda().to(torch.bfloat16)
    q = nf4.NF4Linear(lin, True, torch.bfloat16)
    w = q.dequantized(torch.float32)
    x = torch.randn(4, 256, device="cuda", requires_grad=True)
    y = q(x.to(torch.bfloat16))
    y.float().sum().backward()
    assert torch.allclose(y.float(), x.detach() @ w.t(), rtol=2e-2, atol=2e-2)
    assert torch.allclose(x.grad, torch.ones(4, 384, device="cuda") @ w, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("path", ["triton", "torch"])
@pytest.mark.parametrize("head_trains", [False, True])
def test_fused_cross_entropy_matches_full_logits(head_trains, path, monkeypatch):
    from lora_lens_trainer import ce_kernel, loss

    if path == "triton" and ce_kernel.triton is None:
        pytest.skip("triton does not import here")
    monkeypatch.setenv("LORA_LENS_TORCH_CE", "1" if path == "torch" else "0")
    monkeypatch.setattr(loss, "CHUNK_ELEMENTS", 1000 * 37)  # many uneven chunks
    torch.manual_seed(3)
    h = torch.randn(3, 50, 64, device="cuda", requires_grad=True)
    w = (torch.randn(1000, 64, device="cuda") * 0.1).requires_grad_(head_trains)
    t = torch.randint(0, 1000, (3, 50), device="cuda")
    t[0, :10] = -100
    ours = fused_linear_cross_entropy(h, w, t, dtype=torch.float32)
    (ours * 2).backward()
    gh, gw = h.grad.clone(), (w.grad.clone() if head_trains else None)
    h.grad = None
    if head_trains:
        w.grad = None
    ref = reference_cross_entropy(h, w, t)
    (ref * 2).backward()
    assert float(ours.detach()) == pytest.approx(float(ref.detach()), rel=1e-5)
    assert torch.allclose(gh, h.grad, atol=1e-6, rtol=1e-4)
    if head_trains:
        assert torch.allclose(gw, w.grad, atol=1e-6, rtol=1e-4)


def test_cross_entropy_kernel_matches_torch_on_bf16_logits_of_a_large_vocabulary():
    from lora_lens_trainer import ce_kernel

    if ce_kernel.triton is None:
        pytest.skip("triton does not import here")
    torch.manual_seed(4)
    vocab = 151936  # not a multiple of the block: the masked tail is exercised
    logits = (torch.randn(37, vocab, device="cuda") * 4).to(torch.bfloat16)
    targets = torch.randint(0, vocab, (37,), device="cuda")
    targets[0], targets[1] = 0, vocab - 1  # the first and last columns
    reference = logits.float().requires_grad_(True)
    expected = torch.nn.functional.cross_entropy(reference, targets, reduction="none")
    (expected.sum() * 0.25).backward()
    work = logits.clone()
    rows = ce_kernel.cross_entropy_grad_(work, targets, 0.25)
    assert torch.allclose(rows, expected.detach(), atol=1e-3, rtol=1e-4)
    # The gradient is rounded to bf16 once, as the torch path's cast does: within half a bf16 ulp of 0.25.
    assert float((work.float() - reference.grad).abs().max()) < 0.25 * 2**-8


def test_fused_lora_linear_matches_the_plain_formula():
    from lora_lens_trainer.lora import LoraLinear

    torch.manual_seed(4)
    base = torch.nn.Linear(96, 80, bias=True).cuda()
    layer = LoraLinear(base, r=8, alpha=16, dropout=0.0, rslora=False, device="cuda")
    torch.nn.init.normal_(layer.lora_B, std=0.1)
    for p in base.parameters():
        p.requires_grad_(False)
    x = torch.randn(2, 7, 96, device="cuda", requires_grad=True)
    y = layer(x)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    grads = (x.grad.clone(), layer.lora_A.grad.clone(), layer.lora_B.grad.clone())
    x.grad = layer.lora_A.grad = layer.lora_B.grad = None
    ref = base(x) + 2.0 * (x @ layer.lora_A.t()) @ layer.lora_B.t()
    (ref * g).sum().backward()
    assert torch.allclose(y, ref, atol=1e-4, rtol=1e-4)
    for ours, theirs in zip(grads, (x.grad, layer.lora_A.grad, layer.lora_B.grad)):
        assert torch.allclose(ours, theirs, atol=1e-4, rtol=1e-3)


def test_packed_examples_do_not_see_each_other(tmp_path):
    """The loss of a packed row equals the losses of its examples run one by one."""
    from transformers import AutoModelForCausalLM

    from lora_lens_trainer.collate import collate_packed, collate_padded
    from lora_lens_trainer.data.tokenize import Example
    from lora_lens_trainer.step import batch_loss
    from tests.tiny_model import build_model_dir

    folder = build_model_dir(tmp_path / "m")
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="sdpa").cuda().eval()
    body, head = model.model, model.lm_head
    gen = torch.Generator().manual_seed(5)
    exs = [Example(ids, ids) for ids in (torch.randint(5, 300, (n,), generator=gen).tolist() for n in (17, 9, 30))]
    device = torch.device("cuda")
    with torch.no_grad():
        packed = batch_loss(body, head, collate_packed([exs], 0, 128).to(device), 1.0, device, None, "sdpa")
        alone = sum(
            float(batch_loss(body, head, collate_padded([e], 0).to(device), 1.0, device, None, "sdpa")) for e in exs
        )
        # Without the block mask the later examples would attend to the earlier ones and the sum would differ.
        leaky = collate_packed([exs], 0, 128)
        leaky.attention_mask = None
        leaky.position_ids = None
        leaked = float(batch_loss(body, head, leaky.to(device), 1.0, device, None, "eager"))
    assert float(packed) == pytest.approx(alone, rel=1e-4)
    assert abs(leaked - alone) > 1e-3 * alone


def test_chat_labels_cover_only_assistant_turns(tmp_path):
    from transformers import AutoTokenizer

    from lora_lens_trainer.data.tokenize import IGNORE, tokenize_rows
    from tests.tiny_model import build_model_dir, chat_rows

    tok = AutoTokenizer.from_pretrained(build_model_dir(tmp_path / "m"))
    rows = chat_rows(3)
    examples, dropped = tokenize_rows(rows, tok, "chat", "auto", 512, train_on_prompt=False)
    assert dropped == 0
    for row, ex in zip(rows, examples):
        trained = tok.decode([t for t, label in zip(ex.input_ids, ex.labels) if label != IGNORE])
        assert row["messages"][-1]["content"] in trained
        assert "capital of" in trained and "What is" not in trained and "system" not in trained
    everything, _ = tokenize_rows(rows, tok, "chat", "auto", 512, train_on_prompt=True)
    assert all(label != IGNORE for label in everything[0].labels)
    short, dropped = tokenize_rows(rows, tok, "chat", "auto", 8, train_on_prompt=False)
    assert dropped == 3 and short == []
