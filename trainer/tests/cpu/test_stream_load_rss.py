"""Peak RAM of the streaming NF4 load against the whole-model load, on a 270 MB random Llama written as shards.

Each load runs in its own process, which reports its resident set just before loading (VmRSS) and its peak after
(VmHWM, the kernel's high-water mark). The streaming load may add only what model/stream_load.py states: on the CPU
device, the loaded NF4 model itself, plus the largest tensor's read buffer and one quantization pass's temporaries.
The whole-model path must hold every bf16 weight at once, so it is above that by most of the model's size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the loader is torch code (CPU is enough)")
pytest.importorskip("transformers", reason="the skeleton is a transformers model")

from lora_lens_trainer.model.checkpoint_files import INDEX_NAME  # noqa: E402
from lora_lens_trainer.nf4 import QUANTIZE_CHUNK  # noqa: E402

TRAINER = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
# Allocator and Python bookkeeping the load adds besides tensors (measured: under 20 MiB).
FIXED_SLACK = 48 * MIB
SHARD_BYTES = 64 * MIB


def _write_random_llama(folder: Path) -> int:
    """hidden 1024, MLP 4096, 8 layers, vocab 8192: 134M weights (268 MB in bf16). Returns the bf16 bytes."""
    from safetensors.torch import save_file
    from transformers import LlamaConfig

    config = LlamaConfig(
        vocab_size=8192,
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=8,
        num_attention_heads=16,
        num_key_value_heads=8,
        tie_word_embeddings=False,
    )
    folder.mkdir(parents=True)
    config.save_pretrained(folder)
    gen = torch.Generator().manual_seed(0)
    shapes = {"model.embed_tokens.weight": (8192, 1024), "model.norm.weight": (1024,), "lm_head.weight": (8192, 1024)}
    for i in range(8):
        p = f"model.layers.{i}."
        shapes.update(
            {
                p + "self_attn.q_proj.weight": (1024, 1024),
                p + "self_attn.k_proj.weight": (512, 1024),
                p + "self_attn.v_proj.weight": (512, 1024),
                p + "self_attn.o_proj.weight": (1024, 1024),
                p + "mlp.gate_proj.weight": (4096, 1024),
                p + "mlp.up_proj.weight": (4096, 1024),
                p + "mlp.down_proj.weight": (1024, 4096),
                p + "input_layernorm.weight": (1024,),
                p + "post_attention_layernorm.weight": (1024,),
            }
        )
    weight_map: dict[str, str] = {}
    shard: dict[str, torch.Tensor] = {}
    total = 0

    def flush() -> None:
        name = f"model-{len(set(weight_map.values())) + 1:05d}.safetensors"
        save_file(shard, folder / name, metadata={"format": "pt"})
        weight_map.update({k: name for k in shard})
        shard.clear()

    for name, shape in shapes.items():
        shard[name] = (torch.randn(shape, generator=gen) * 0.02).to(torch.bfloat16)
        total += shard[name].nbytes
        if sum(t.nbytes for t in shard.values()) >= SHARD_BYTES:
            flush()
    if shard:
        flush()
    (folder / INDEX_NAME).write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    return total


_CHILD = r"""
import json, sys
import torch
sys.path.insert(0, sys.argv[3])
from lora_lens_trainer.model.stream_load import plan_load, resident_bytes, skeleton, stream_load
from lora_lens_trainer.nf4 import quantize_model

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024

from pathlib import Path
folder, how = Path(sys.argv[1]), sys.argv[2]
torch.set_num_threads(1)
if how == "stream":
    model = skeleton(folder, torch.bfloat16, "sdpa", False)
    load = plan_load(model, folder)
    before = status("VmRSS")
    stream_load(model, load, torch.device("cpu"), torch.bfloat16, True)
    extra = {"resident": resident_bytes(load, torch.bfloat16), "largest": load.largest_bytes}
else:
    from transformers import AutoModelForCausalLM
    before = status("VmRSS")
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16, local_files_only=True)
    head = model.get_output_embeddings()
    quantize_model(model, {n for n, m in model.named_modules() if m is head}, True, torch.bfloat16, torch.device("cpu"))
    extra = {}
print(json.dumps({"before": before, "peak": status("VmHWM"), **extra}))
"""


def _measure(folder: Path, how: str) -> dict:
    # glibc raises its mmap threshold after the first large free, and then serves 16 MiB temporaries from a heap
    # that fragments: the same load then peaks anywhere within ~70 MiB. A fixed threshold measures the load itself.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1024 * 1024)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(folder), how, str(TRAINER)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def random_llama(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    folder = tmp_path_factory.mktemp("rss") / "llama"
    return folder, _write_random_llama(folder)


def test_streaming_load_adds_only_the_nf4_model_and_one_tensor_to_ram(random_llama: tuple[Path, int]):
    folder, bf16_bytes = random_llama
    stream = _measure(folder, "stream")
    whole = _measure(folder, "whole")
    stream_extra = stream["peak"] - stream["before"]
    whole_extra = whole["peak"] - whole["before"]
    largest_linear = 4096 * 1024
    bound = stream["resident"] + stream["largest"] + 13 * min(largest_linear, QUANTIZE_CHUNK) + FIXED_SLACK
    print(
        f"bf16 model {bf16_bytes / MIB:.0f} MiB; peak RAM added: streaming {stream_extra / MIB:.0f} MiB (bound "
        f"{bound / MIB:.0f}), whole model {whole_extra / MIB:.0f} MiB"
    )
    assert stream_extra <= bound
    assert whole_extra >= bf16_bytes  # the old path held every bf16 weight at once
    assert whole_extra - stream_extra >= bf16_bytes // 2
