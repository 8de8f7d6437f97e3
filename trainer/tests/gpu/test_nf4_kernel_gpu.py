"""The fused NF4 matmul on the GPU at real sizes (a 7B model's MLP and attention shapes) against the reference path,
and the streaming load onto the GPU: the same weights as the CPU path, and a GPU peak within the NF4 model plus one
bf16 weight and a quantization pass."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="needs torch")
if not torch.cuda.is_available():
    pytest.skip("needs a CUDA GPU; none is visible here", allow_module_level=True)
pytest.importorskip("triton", reason="the fused kernel is Triton code")

from torch import nn  # noqa: E402

from lora_lens_trainer import nf4  # noqa: E402
from lora_lens_trainer.kernels import nf4_matmul as kernels  # noqa: E402

CUDA = torch.device("cuda")
# Relative L2 distance of two bf16 results of the same products summed in different orders (fp32 accumulation).
BF16_NOISE = 4e-3


def _layer(out_f: int, in_f: int, double_quant: bool = True) -> nf4.NF4Linear:
    linear = nn.Linear(in_f, out_f, bias=False, device=CUDA, dtype=torch.bfloat16)
    nn.init.normal_(linear.weight, std=0.02)
    return nf4.NF4Linear(linear, double_quant, torch.bfloat16)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


@pytest.mark.parametrize("out_f,in_f", [(18944, 3584), (3584, 18944), (512, 3584), (28672, 8192)])
def test_fused_matches_the_reference_at_real_sizes(monkeypatch: pytest.MonkeyPatch, out_f: int, in_f: int):
    monkeypatch.setenv(kernels.ENV, "triton")
    torch.manual_seed(0)
    layer = _layer(out_f, in_f)
    x = torch.randn(2048, in_f, device=CUDA, dtype=torch.bfloat16)
    g = torch.randn(2048, out_f, device=CUDA, dtype=torch.bfloat16)
    assert kernels.fused_enabled(x)
    assert _relative(kernels.fused_nf4_matmul(x, layer), kernels.reference_nf4_matmul(x, layer)) <= BF16_NOISE
    assert (
        _relative(kernels.fused_nf4_matmul(g, layer, True), kernels.reference_nf4_matmul(g, layer, True)) <= BF16_NOISE
    )


def test_fused_forms_no_weight_sized_buffer(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(kernels.ENV, "triton")
    layer = _layer(28672, 8192)
    x = torch.randn(512, 8192, device=CUDA, dtype=torch.bfloat16)
    kernels.fused_nf4_matmul(x, layer)  # compile outside the measured call
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    out = kernels.fused_nf4_matmul(x, layer)
    torch.cuda.synchronize()
    extra = torch.cuda.max_memory_allocated() - base
    bf16_weight = 28672 * 8192 * 2
    assert extra <= out.numel() * 2 + (1 << 20), (
        f"{extra / 2**20:.0f} MiB beyond the output; a bf16 W is {bf16_weight / 2**20:.0f}"
    )


def test_streaming_load_on_the_gpu_equals_the_cpu_path_and_bounds_gpu_memory(tmp_path: Path):
    from lora_lens_trainer.model.stream_load import plan_load, resident_bytes, skeleton, stream_load
    from tests.tiny_model import tiny_causal_lm

    model = tiny_causal_lm(
        "llama",
        hidden_size=512,
        intermediate_size=1536,
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=4,
        vocab=4096,
    ).to(torch.bfloat16)
    model.save_pretrained(tmp_path, safe_serialization=True, max_shard_size="8MB")

    def load(device: torch.device) -> dict[str, torch.Tensor]:
        skeleton_model = skeleton(tmp_path, torch.bfloat16, "sdpa", False)
        plan = plan_load(skeleton_model, tmp_path)
        assert plan is not None
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        loaded = stream_load(skeleton_model, plan, device, torch.bfloat16, True)
        if device.type == "cuda":
            peak = torch.cuda.max_memory_allocated() - before
            largest_linear = 1536 * 512
            bound = resident_bytes(plan, torch.bfloat16) + largest_linear * 2 + 13 * largest_linear + (4 << 20)
            assert peak <= bound, f"GPU peak during load {peak / 2**20:.1f} MiB, bound {bound / 2**20:.1f} MiB"
        return {k: v.cpu() for k, v in loaded.state_dict().items()}

    on_gpu, on_cpu = load(CUDA), load(torch.device("cpu"))
    assert sorted(on_gpu) == sorted(on_cpu)
    for key in on_cpu:
        if key.endswith("absmax_q"):
            # The double quantization's offset is a mean: GPU and CPU sum in different orders, and a last-bit
            # difference can move a rare int8 absmax by one step.
            assert (on_gpu[key] != on_cpu[key]).float().mean() <= 1e-3, key
        elif key.endswith(("absmax_offset", "absmax_scale")):
            assert torch.allclose(on_gpu[key], on_cpu[key], rtol=1e-5, atol=0), key
        else:
            assert torch.equal(on_gpu[key], on_cpu[key]), key
