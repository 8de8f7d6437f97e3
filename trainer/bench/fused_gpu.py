"""GPU run for issue 28: the fused RMSNorm/RoPE kernels at real sizes, and Qwen2-7B-shaped LoRA with full against
`auto` (partial) gradient checkpointing, against the estimates the TypeScript side makes (embedded below).

    python trainer/bench/fused_gpu.py            # on one H100/H200; writes $OUT/fused_gpu.json and prints every row
    python trainer/bench/fused_gpu.py --tiny     # CPU dry run under TRITON_INTERPRET=1: tiny sizes, 2-layer model

Parts (each prints as it goes; a failing part is recorded and the next runs):
1. bf16 matmul peak (8192^3, best of 10): the denominator of every MFU.
2. Kernels: RMSNorm (tokens x 3584), RoPE (q 28 heads, k 4 heads, 128 dims), SwiGLU (tokens x 18944), forward and
   forward+backward: error against an fp32 computation next to the eager bf16 reference's, time against eager.
3. Qwen2-7B-shaped model (random weights from its config, no download), LoRA r16 all-linear, seq 2048, batch 1/4/8:
   the trainer's own path (apply_method, chunked fused loss, fused AdamW) with k of 28 layers checkpointed
   (full 28, auto's k, a half), and batch 4 with the fused kernels. tok/s, peak allocated against the estimate,
   MFU = (4N + 2N·k/L + attention) FLOPs per token × tok/s / the measured peak (LoRA: no weight gradient of the base).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GIB = 1024**3
# npx tsx of server/src/core/estimate (autoCheckpoint.pickCheckpointLayers, memory/estimate.estimateMemory,
# throughput/estimate) on 2026-12-06 for measurementPlan(qwen2-7b, lora r16 all-linear, seq 2048, bs), engine lora-lens:
# peak allocated GiB per checkpointed layer count k (0..28), auto's k per GPU, estimated tokens/s.
ESTIMATES: dict[str, Any] = json.loads(
    r"""{"peak_alloc_gib": {"1": {"0": 26.26, "1": 25.898, "2": 25.508, "3": 25.119, "4": 24.73, "5": 24.34, "6": 23.951, "7": 23.562, "8": 23.172, "9": 22.783, "10": 22.394, "11": 22.004, "12": 21.615, "13": 21.226, "14": 20.836, "15": 20.447, "16": 20.058, "17": 19.668, "18": 19.279, "19": 18.89, "20": 18.5, "21": 18.111, "22": 17.722, "23": 17.332, "24": 16.943, "25": 16.554, "26": 16.164, "27": 15.775, "28": 15.656}, "4": {"0": 60.454, "1": 59.006, "2": 57.448, "3": 55.891, "4": 54.334, "5": 52.776, "6": 51.219, "7": 49.662, "8": 48.104, "9": 46.547, "10": 44.99, "11": 43.433, "12": 41.875, "13": 40.318, "14": 38.761, "15": 37.203, "16": 35.646, "17": 34.089, "18": 32.531, "19": 30.974, "20": 29.417, "21": 27.859, "22": 26.302, "23": 24.745, "24": 23.187, "25": 21.63, "26": 20.073, "27": 18.516, "28": 18.57}, "8": {"0": 106.222, "1": 103.327, "2": 100.212, "3": 97.097, "4": 93.983, "5": 90.868, "6": 87.753, "7": 84.639, "8": 81.524, "9": 78.41, "10": 75.295, "11": 72.18, "12": 69.066, "13": 65.951, "14": 62.836, "15": 59.722, "16": 56.607, "17": 53.493, "18": 50.378, "19": 47.263, "20": 44.149, "21": 41.034, "22": 37.92, "23": 34.805, "24": 31.69, "25": 28.576, "26": 25.461, "27": 22.346, "28": 22.456}}, "auto_layers": {"H100/1": 0, "H200/1": 0, "H100/4": 0, "H200/4": 0, "H100/8": 12, "H200/8": 0}, "est_tok_s": {"H100/1": {"0": 11841, "7": 10328, "14": 9124, "21": 8154, "28": 7359}, "H200/1": {"0": 12405, "7": 10734, "14": 9427, "21": 8388, "28": 7545}, "H100/4": {"0": 13456, "7": 12176, "14": 11118, "21": 10228, "28": 9470}, "H200/4": {"0": 14603, "7": 13184, "14": 12014, "21": 11035, "28": 10203}, "H100/8": {"0": 13469, "7": 12190, "14": 11133, "21": 10245, "28": 9488}, "H200/8": {"0": 14620, "7": 13202, "14": 12035, "21": 11058, "28": 10227}}}"""
)
QWEN2_7B = dict(
    vocab_size=152064,
    hidden_size=3584,
    intermediate_size=18944,
    num_hidden_layers=28,
    num_attention_heads=28,
    num_key_value_heads=4,
    tie_word_embeddings=False,
)
TINY = dict(
    vocab_size=512,
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    tie_word_embeddings=False,
)


def log(*parts: Any) -> None:
    print(*parts, flush=True)


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Any, reps: int) -> float:
    """Median seconds of `reps` calls after two warm-ups."""
    for _ in range(2):
        fn()
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def matmul_peak(dev: torch.device, tiny: bool) -> float:
    n = 256 if tiny else 8192
    a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    best = min(timed(lambda: a @ b, 3 if tiny else 10) for _ in range(1 if tiny else 3))
    return 2 * n**3 / best


def _err(got: torch.Tensor, ref: torch.Tensor, exact: torch.Tensor) -> dict[str, float]:
    scale = float(exact.detach().abs().max())
    return {
        "fused_err": float((got.detach().float() - exact.detach()).abs().max()) / scale,
        "eager_err": float((ref.detach().float() - exact.detach()).abs().max()) / scale,
    }


def kernels_part(dev: torch.device, tiny: bool) -> dict[str, Any]:
    from lora_lens_trainer.kernels import fused_ops as F

    out: dict[str, Any] = {}
    tokens, h = (64, 96) if tiny else (8192, 3584)
    reps = 3 if tiny else 20
    x = torch.randn(tokens, h, device=dev).to(torch.bfloat16).requires_grad_()
    w = (1 + 0.1 * torch.randn(h, device=dev)).to(torch.bfloat16)
    g = torch.randn(tokens, h, device=dev).to(torch.bfloat16)
    y, ref = F.fused_rmsnorm(x, w, 1e-6), F.rmsnorm_reference(x, w, 1e-6)
    x32 = x.detach().float().requires_grad_()
    exact = F.rmsnorm_reference(x32, w.float(), 1e-6)
    (dx,) = torch.autograd.grad(y, (x,), g)
    (dx_ref,) = torch.autograd.grad(ref, (x,), g)
    (dx32,) = torch.autograd.grad(exact, (x32,), g.float())
    row: dict[str, Any] = {"shape": [tokens, h], "forward_equal_fraction": float((y == ref).float().mean())}
    row.update({f"dx_{k}": v for k, v in _err(dx, dx_ref, dx32).items()})

    def fb(fn: Any) -> Any:
        return lambda: torch.autograd.grad(fn(x, w, 1e-6), (x,), g)

    with torch.no_grad():
        row["fwd_us_fused"] = 1e6 * timed(lambda: F.fused_rmsnorm(x, w, 1e-6), reps)
        row["fwd_us_eager"] = 1e6 * timed(lambda: F.rmsnorm_reference(x, w, 1e-6), reps)
    row["fwd_bwd_us_fused"] = 1e6 * timed(fb(F.fused_rmsnorm), reps)
    row["fwd_bwd_us_eager"] = 1e6 * timed(fb(F.rmsnorm_reference), reps)
    out["rmsnorm"] = row
    log("rmsnorm", json.dumps(row))

    b, s, hq, hk, d = (2, 16, 4, 2, 16) if tiny else (4, 2048, 28, 4, 128)
    pq = torch.randn(b, s, hq * d, device=dev).to(torch.bfloat16).requires_grad_()
    pk = torch.randn(b, s, hk * d, device=dev).to(torch.bfloat16).requires_grad_()
    ang = torch.arange(s, device=dev)[:, None] * (10000 ** (-torch.arange(d // 2, device=dev) / (d // 2)))[None, :]
    cos = torch.cat([ang.cos()] * 2, -1)[None].expand(b, s, d).to(torch.bfloat16)
    sin = torch.cat([ang.sin()] * 2, -1)[None].expand(b, s, d).to(torch.bfloat16)

    def heads(p: torch.Tensor, n: int) -> torch.Tensor:
        return (p * 1).view(b, s, n, d).transpose(1, 2)

    gq = torch.randn(b, hq, s, d, device=dev).to(torch.bfloat16)
    gk = torch.randn(b, hk, s, d, device=dev).to(torch.bfloat16)
    qf, kf = F.fused_rope(heads(pq, hq), heads(pk, hk), cos, sin)
    qr, kr = F.rope_reference(heads(pq, hq), heads(pk, hk), cos, sin)
    q32, k32 = pq.detach().float().requires_grad_(), pk.detach().float().requires_grad_()
    qe, ke = F.rope_reference(heads(q32, hq), heads(k32, hk), cos.float(), sin.float())
    row = {"q": [b, hq, s, d], "k": [b, hk, s, d]}
    row.update({f"q_{k}": v for k, v in _err(qf, qr, qe).items()})
    dq = torch.autograd.grad((qf, kf), (pq,), (gq, gk))[0]
    dq_ref = torch.autograd.grad((qr, kr), (pq,), (gq, gk))[0]
    dq32 = torch.autograd.grad((qe, ke), (q32,), (gq.float(), gk.float()))[0]
    row.update({f"dq_{k}": v for k, v in _err(dq, dq_ref, dq32).items()})

    def rope_fb(fn: Any) -> Any:
        return lambda: torch.autograd.grad(fn(heads(pq, hq), heads(pk, hk), cos, sin), (pq, pk), (gq, gk))

    with torch.no_grad():
        row["fwd_us_fused"] = 1e6 * timed(lambda: F.fused_rope(heads(pq, hq), heads(pk, hk), cos, sin), reps)
        row["fwd_us_eager"] = 1e6 * timed(lambda: F.rope_reference(heads(pq, hq), heads(pk, hk), cos, sin), reps)
    row["fwd_bwd_us_fused"] = 1e6 * timed(rope_fb(F.fused_rope), reps)
    row["fwd_bwd_us_eager"] = 1e6 * timed(rope_fb(F.rope_reference), reps)
    out["rope"] = row
    log("rope", json.dumps(row))

    tokens, inter = (64, 200) if tiny else (8192, 18944)
    gate = (2 * torch.randn(tokens, inter, device=dev)).to(torch.bfloat16).requires_grad_()
    up = torch.randn(tokens, inter, device=dev).to(torch.bfloat16).requires_grad_()
    dy = torch.randn(tokens, inter, device=dev).to(torch.bfloat16)
    y, ref = F.fused_swiglu(gate, up), F.swiglu_reference(gate, up)
    g32, u32 = gate.detach().float().requires_grad_(), up.detach().float().requires_grad_()
    exact = F.swiglu_reference(g32, u32)
    row = {"shape": [tokens, inter]}
    row.update({f"y_{k}": v for k, v in _err(y, ref, exact).items()})
    dg = torch.autograd.grad(y, (gate,), dy)[0]
    dg_ref = torch.autograd.grad(ref, (gate,), dy)[0]
    dg32 = torch.autograd.grad(exact, (g32,), dy.float())[0]
    row.update({f"dgate_{k}": v for k, v in _err(dg, dg_ref, dg32).items()})
    with torch.no_grad():
        row["fwd_us_fused"] = 1e6 * timed(lambda: F.fused_swiglu(gate, up), reps)
        row["fwd_us_eager"] = 1e6 * timed(lambda: F.swiglu_reference(gate, up), reps)
    row["fwd_bwd_us_fused"] = 1e6 * timed(lambda: torch.autograd.grad(F.fused_swiglu(gate, up), (gate, up), dy), reps)
    row["fwd_bwd_us_eager"] = 1e6 * timed(
        lambda: torch.autograd.grad(F.swiglu_reference(gate, up), (gate, up), dy), reps
    )
    out["swiglu"] = row
    log("swiglu", json.dumps(row))
    return out


def flops_per_token(cfg: dict[str, Any], seq: int, k: int) -> float:
    """LoRA: forward 2N and input gradients 2N over the layers' linears and the head, the recompute 2N·k/L over the
    layers, causal attention (QK^T and PV: 2·2·heads·dim·seq/2 per layer forward; backward twice that)."""
    h, i, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    d = h // cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"] * d
    layer = h * h * 2 + 2 * h * kv + 3 * h * i  # q, o, k, v, gate, up, down
    n_layers, head = L * layer, cfg["vocab_size"] * h
    attn = 2 * 2 * cfg["num_attention_heads"] * d * (seq / 2) * L
    f = k / L
    return 4 * (n_layers + head) + 2 * n_layers * f + attn * (3 + f)


class Trainer:
    """One model, LoRA injected once; each row sets how many layers are checkpointed and runs a few steps."""

    def __init__(self, dev: torch.device, cfg: dict[str, Any]) -> None:
        from transformers import AutoModelForCausalLM, Qwen2Config

        from lora_lens_trainer.modeling import apply_method, decoder_and_head
        from lora_lens_trainer.plan import plan_from_dict
        from tests.plans import make_plan

        self.dev, self.cfg = dev, cfg
        config = Qwen2Config(**cfg, max_position_embeddings=32768)
        t0 = time.perf_counter()
        with dev:
            model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16, attn_implementation="sdpa")
        lora = dict(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", bias="none")
        lora.update(use_rslora=False, use_dora=False)
        self.plan = plan_from_dict(
            make_plan("/b", "/b/t.jsonl", method="lora", lora=lora, training__gradient_checkpointing=True)
        )
        self.setup = apply_method(model, self.plan, dev, torch.bfloat16, None, None)
        self.model = self.setup.model.train()
        self.body, self.head = decoder_and_head(self.model, None)
        log(f"model built and adapted in {time.perf_counter() - t0:.1f} s")

    def row(self, bs: int, seq: int, k: int, steps: int, fused: bool = False) -> dict[str, Any]:
        from lora_lens_trainer.checkpointing import apply_checkpointing, checkpointed_layers
        from lora_lens_trainer.collate import Batch
        from lora_lens_trainer.kernels import fused_ops
        from lora_lens_trainer.optim import build_optimizer
        from lora_lens_trainer.step import batch_loss

        apply_checkpointing(self.model, True, k)
        assert len(checkpointed_layers(self.model)) == k
        undo = fused_ops.install(self.model) if fused else None
        params = [p for p in self.model.parameters() if p.requires_grad]
        opt, _ = build_optimizer(self.plan, params, self.dev)
        ids = torch.randint(0, self.cfg["vocab_size"], (bs, seq), device=self.dev)
        targets = torch.cat([ids[:, 1:], torch.full((bs, 1), -100, device=self.dev)], dim=1)
        batch = Batch(ids, targets, None, None, bs * seq, int((targets != -100).sum()))

        def step() -> None:
            loss = batch_loss(self.body, self.head, batch, float(batch.n_targets), self.dev, None, "sdpa")
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
            opt.step()
            opt.zero_grad(set_to_none=True)

        try:
            if self.dev.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            times = []
            for _ in range(steps):
                sync()
                t0 = time.perf_counter()
                step()
                sync()
                times.append(time.perf_counter() - t0)
            peak = torch.cuda.max_memory_allocated() / GIB if self.dev.type == "cuda" else 0.0
        finally:
            if undo:
                undo()
            del opt
            for p in params:
                p.grad = None
        step_s = min(times[1:])
        return {"bs": bs, "seq": seq, "checkpointed": k, "fused_kernels": fused, "step_s": round(step_s, 4),
                "tok_s": round(bs * seq / step_s), "peak_alloc_gib": round(peak, 3)}  # fmt: skip


def gpu_key() -> str:
    name = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    return "H200" if "H200" in name else "H100"


def training_part(dev: torch.device, tiny: bool, peak_flops: float) -> list[dict[str, Any]]:
    cfg = TINY if tiny else QWEN2_7B
    seq, steps, L = (32, 2, 2) if tiny else (2048, 4, 28)
    trainer = Trainer(dev, cfg)
    g = gpu_key()
    auto = {bs: ESTIMATES["auto_layers"][f"{g}/{bs}"] for bs in (1, 4, 8)}
    plan = [(1, L, False), (1, auto[1], False), (4, L, False), (4, L // 2, False), (4, auto[4], False),
            (4, auto[4], True), (8, auto[8], False)]  # fmt: skip
    rows = []
    for bs, k, fused in plan:
        k = min(k, L)
        try:
            r = trainer.row(bs, seq, k, steps, fused)
        except Exception as error:  # an OOM of one row is a result; the next rows still run
            r = {"bs": bs, "checkpointed": k, "fused_kernels": fused, "error": f"{type(error).__name__}: {error}"[:300]}
            for p in trainer.model.parameters():
                p.grad = None
            if dev.type == "cuda":
                torch.cuda.empty_cache()
        if "tok_s" in r and not tiny:
            est = ESTIMATES["peak_alloc_gib"][str(bs)][str(k)]
            r["estimate_peak_alloc_gib"] = est
            r["peak_error"] = round((est - r["peak_alloc_gib"]) / r["peak_alloc_gib"], 4)
            est_tok = ESTIMATES["est_tok_s"][f"{g}/{bs}"].get(str(k))
            if est_tok:
                r["estimate_tok_s"] = est_tok
            r["mfu"] = round(flops_per_token(cfg, seq, k) * r["tok_s"] / peak_flops, 4)
        r["auto"] = k == auto.get(bs)
        rows.append(r)
        log("train", json.dumps(r))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true", help="CPU dry run (TRITON_INTERPRET=1), tiny sizes")
    args = ap.parse_args()
    out_dir = Path(os.environ.get("OUT", "/tmp/fused_gpu_out"))
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.tiny:
        os.environ["TRITON_INTERPRET"] = "1"
    dev = torch.device("cpu" if args.tiny else "cuda")
    result: dict[str, Any] = {"device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu",
                              "torch": torch.__version__, "estimates": ESTIMATES}  # fmt: skip
    t_start = time.perf_counter()
    peak = 1.0
    for name, part in (
        ("matmul_peak_tflops", lambda: matmul_peak(dev, args.tiny)),
        ("kernels", lambda: kernels_part(dev, args.tiny)),
        ("training", lambda: training_part(dev, args.tiny, peak)),  # noqa: B023 (the peak measured first)
    ):
        t0 = time.perf_counter()
        try:
            value = part()
            if name == "matmul_peak_tflops":
                peak = float(value)
                value = round(peak / 1e12, 1)
            result[name] = value
        except Exception:
            result[name] = {"error": traceback.format_exc()[-2000:]}
        log(f"== {name}: {json.dumps(result[name])[:4000]} ({time.perf_counter() - t0:.1f} s)")
        (out_dir / "fused_gpu.json").write_text(json.dumps(result, indent=1))
    log(f"total {time.perf_counter() - t_start:.1f} s; wrote {out_dir / 'fused_gpu.json'}")


if __name__ == "__main__":
    main()
