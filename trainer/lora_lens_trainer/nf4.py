"""Built-in NF4 4-bit weights for QLoRA where bitsandbytes is absent.

The format follows the QLoRA paper: weights in blocks of 64 are scaled by their absolute maximum and each value
is replaced by the nearest of the 16 NF4 levels (quantiles of a standard normal, with an exact zero); with double
quantization the fp32 absmax values are themselves stored as int8 in blocks of 256 with one fp32 scale per block,
around their mean. Two 4-bit codes share one byte. Dequantization happens per forward and per backward, so
no bf16 copy of a frozen weight outlives the matrix product that needs it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# Appendix E of the QLoRA paper (and bitsandbytes' NF4 table).
NF4_CODE = (
    -1.0,
    -0.6961928009986877,
    -0.5250730514526367,
    -0.39491748809814453,
    -0.28444138169288635,
    -0.18477343022823334,
    -0.09105003625154495,
    0.0,
    0.07958029955625534,
    0.16093020141124725,
    0.24611230194568634,
    0.33791524171829224,
    0.44070982933044434,
    0.5626170039176941,
    0.7229568362236023,
    1.0,
)
BLOCK = 64
ABSMAX_BLOCK = 256


def _code(device: torch.device) -> torch.Tensor:
    return torch.tensor(NF4_CODE, dtype=torch.float32, device=device)


# Elements quantized per pass: the pass's temporaries (an fp32 copy, the scaled values, int32 level indices) are
# 12 bytes an element, so 192 MiB at most however large the layer (a 70B MLP weight has 235M elements: 2.8 GiB in
# one pass). A multiple of BLOCK, so every block falls whole in one pass and the result is the same bit for bit.
QUANTIZE_CHUNK = 1 << 24


def quantize(weight: torch.Tensor, double_quant: bool = True) -> dict[str, Any]:
    """Packs `weight` (any float dtype, any shape; padded with zeros to a multiple of 64 elements)."""
    flat = weight.detach().reshape(-1)
    n = flat.numel()
    n_blocks = -(-n // BLOCK)
    code = _code(weight.device)
    # Nearest level = bucket between consecutive midpoints; ties go to the upper level, as bitsandbytes does.
    mids = (code[1:] + code[:-1]) / 2
    absmax = torch.empty(n_blocks, dtype=torch.float32, device=weight.device)
    packed = torch.empty(n_blocks * BLOCK // 2, dtype=torch.uint8, device=weight.device)
    for start in range(0, n_blocks * BLOCK, QUANTIZE_CHUNK):
        part = flat[start : start + QUANTIZE_CHUNK].float()
        if part.numel() % BLOCK:
            part = F.pad(part, (0, (-part.numel()) % BLOCK))
        blocks = part.view(-1, BLOCK)
        first = start // BLOCK
        block_max = blocks.abs().amax(dim=1).clamp(min=1e-12)
        absmax[first : first + blocks.shape[0]] = block_max
        idx = torch.bucketize(blocks / block_max[:, None], mids, out_int32=True).to(torch.uint8).view(-1)
        packed[start // 2 : (start + idx.numel()) // 2] = (idx[0::2] << 4) | idx[1::2]
    state: dict[str, Any] = {"packed": packed, "shape": tuple(weight.shape), "numel": n, "dtype": weight.dtype}
    if double_quant:
        offset = absmax.mean()
        centred = absmax - offset
        pad2 = (-centred.numel()) % ABSMAX_BLOCK
        c = F.pad(centred, (0, pad2)).view(-1, ABSMAX_BLOCK)
        scale = (c.abs().amax(dim=1) / 127.0).clamp(min=1e-12)
        q = torch.round(c / scale[:, None]).clamp(-127, 127).to(torch.int8).view(-1)[: centred.numel()]
        state.update(absmax_q=q, absmax_scale=scale, absmax_offset=offset.reshape(1))
    else:
        state.update(absmax=absmax)
    return state


def absmax_of(state: dict[str, Any]) -> torch.Tensor:
    if "absmax" in state:
        return state["absmax"]
    q = state["absmax_q"]
    pad = (-q.numel()) % ABSMAX_BLOCK
    deq = F.pad(q.float(), (0, pad)).view(-1, ABSMAX_BLOCK) * state["absmax_scale"][:, None]
    return deq.view(-1)[: q.numel()] + state["absmax_offset"]


def _pair_table(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    # One gather per byte instead of unpacking two nibbles into int64 indices: (256, 2) values.
    code = _code(device)
    byte = torch.arange(256, device=device)
    return torch.stack([code[byte >> 4], code[byte & 15]], dim=1).to(dtype)


_TABLES: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}


def dequantize(state: dict[str, Any], dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    packed = state["packed"]
    key = (dtype, packed.device)
    table = _TABLES.get(key)
    if table is None:
        table = _TABLES[key] = _pair_table(dtype, packed.device)
    values = table[packed.int()].view(-1, BLOCK)
    values = values * absmax_of(state).to(dtype)[:, None]
    return values.view(-1)[: state["numel"]].view(state["shape"])


class _NF4Matmul(torch.autograd.Function):
    """x @ W^T with W dequantized again in backward instead of saved (a saved bf16 W would undo the 4 bits)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, module: NF4Linear) -> torch.Tensor:
        from .kernels.nf4_matmul import nf4_matmul

        ctx.module = module
        return nf4_matmul(x, module)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        from .kernels.nf4_matmul import nf4_matmul

        if not ctx.needs_input_grad[0]:  # the layer's input is frozen too (no adapter below it): no product needed
            return None, None
        return nf4_matmul(grad, ctx.module, transpose=True), None


class NF4Linear(nn.Module):
    """A frozen linear layer stored in NF4. Buffers, not parameters: nothing here trains or reaches the optimizer."""

    def __init__(
        self, linear: nn.Linear, double_quant: bool = True, compute_dtype: torch.dtype = torch.bfloat16
    ) -> None:
        super().__init__()
        self._init_from(linear.weight.data, linear.bias, double_quant, compute_dtype)

    @classmethod
    def from_weight(
        cls, weight: torch.Tensor, bias: nn.Parameter | None, double_quant: bool, compute_dtype: torch.dtype
    ) -> NF4Linear:
        """Built from a bare weight (the streaming loader's tensor as it arrives); `bias` may still be on the meta
        device, to be filled in when its own tensor arrives."""
        layer = cls.__new__(cls)
        nn.Module.__init__(layer)
        layer._init_from(weight, bias, double_quant, compute_dtype)
        return layer

    def _init_from(
        self, weight: torch.Tensor, bias: nn.Parameter | None, double_quant: bool, compute_dtype: torch.dtype
    ) -> None:
        self.out_features, self.in_features = weight.shape
        self.compute_dtype = compute_dtype
        state = quantize(weight, double_quant)
        self._shape = state["shape"]
        self._numel = state["numel"]
        self.register_buffer("packed", state["packed"])
        for key in ("absmax", "absmax_q", "absmax_scale", "absmax_offset"):
            if key in state:
                self.register_buffer(key, state[key])
        self.bias = None if bias is None else nn.Parameter(bias.data.to(compute_dtype), requires_grad=False)

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {"packed": self.packed, "shape": self._shape, "numel": self._numel}
        for key in ("absmax", "absmax_q", "absmax_scale", "absmax_offset"):
            if hasattr(self, key):
                out[key] = getattr(self, key)
        return out

    def dequantized(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        return dequantize(self.state(), dtype or self.compute_dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.compute_dtype)
        if torch.is_grad_enabled():
            out = _NF4Matmul.apply(x, self)
        else:
            from .kernels.nf4_matmul import nf4_matmul

            out = nf4_matmul(x, self)
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, nf4"


def quantize_model(
    model: nn.Module, skip: set[str], double_quant: bool, compute_dtype: torch.dtype, device: torch.device
) -> int:
    """Replaces every nn.Linear but those named in `skip` (the output head) by an NF4Linear on `device`.
    Layer by layer, so only one bf16 weight is on the GPU at a time. Returns how many were replaced."""
    targets = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear) and name not in skip]
    for name, linear in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        linear.to(device)
        setattr(parent, child, NF4Linear(linear, double_quant, compute_dtype))
        linear.to("meta")
    return len(targets)
