"""The merge's check runs the model one decoder layer at a time (streamed_forward.py), so the merge needs no more
memory than the training did: the logits equal the whole model's, the adapter as hooks equals its fold, and while
any layer runs the parameters held are exactly the resident ones (embeddings, final norm, head) plus that one layer,
never the model (the issue: a 7B QLoRA merge needed the whole bf16 model on the GPU, 14.9 GiB under a 16 GiB cap)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the streamed forward runs real torch (CPU is enough)")
pytest.importorskip("transformers", reason="the streamed forward builds the model with transformers")

from lora_lens_trainer.export.weights import WeightSource, _config, _shards  # noqa: E402
from lora_lens_trainer.streamed_forward import decoder_layers, streamed_logits  # noqa: E402
from tests.tiny_model import build_model_dir  # noqa: E402

LAYERS = 6


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("streamed") / "tiny-llama", hidden=128, layers=LAYERS)


def _source(folder: Path) -> WeightSource:
    return WeightSource(folder, _config(folder), folder, _shards(folder))


def _whole_model(folder: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()


def _probe() -> torch.Tensor:
    return torch.randint(0, 200, (2, 24), generator=torch.Generator().manual_seed(3))


def _bytes(params) -> int:
    return sum(p.numel() * p.element_size() for p in params if p.device.type != "meta")


def test_streamed_logits_equal_the_whole_model_and_hold_one_layer_at_a_time(model_dir):
    source = _source(model_dir)
    held: list[int] = []
    streamed = streamed_logits(
        model_dir,
        source.tensor,
        _probe(),
        torch.device("cpu"),
        torch.float32,
        on_layer=lambda model: held.append(_bytes(model.parameters())),
    )
    whole = _whole_model(model_dir)
    with torch.no_grad():
        expected = whole(input_ids=_probe()).logits
    assert torch.allclose(streamed, expected, atol=1e-5, rtol=1e-5)

    layers = decoder_layers(whole)
    one_layer = _bytes(layers[0].parameters())
    in_layers = {id(p) for p in layers.parameters()}
    resident = _bytes(p for p in whole.parameters() if id(p) not in in_layers)
    model_bytes = _bytes(whole.parameters())
    print(
        f"\nstreamed forward: model {model_bytes / 2**20:.2f} MiB, held while a layer runs "
        f"{max(held) / 2**20:.2f} MiB = resident {resident / 2**20:.2f} + one layer {one_layer / 2**20:.2f}"
    )
    assert len(held) == LAYERS
    assert held == [resident + one_layer] * LAYERS
    assert max(held) < model_bytes - (LAYERS - 2) * one_layer


def test_the_adapter_as_hooks_equals_its_fold(model_dir):
    config = _config(model_dir)
    hidden, kv = config["hidden_size"], config["hidden_size"] // 2
    gen = torch.Generator().manual_seed(5)
    deltas = {
        f"model.layers.{i}.self_attn.{m}": (torch.randn(4, hidden, generator=gen), torch.randn(out, 4, generator=gen))
        for i in range(LAYERS)
        for m, out in (("q_proj", hidden), ("v_proj", kv))
    }
    scale = 0.05
    plain = _source(model_dir)
    hooked = streamed_logits(model_dir, plain.tensor, _probe(), torch.device("cpu"), torch.float32, (deltas, scale))
    folded_source = WeightSource(model_dir, plain.config, model_dir, plain.shards, deltas, scale)
    folded = streamed_logits(model_dir, folded_source.tensor, _probe(), torch.device("cpu"), torch.float32)
    unchanged = streamed_logits(model_dir, plain.tensor, _probe(), torch.device("cpu"), torch.float32)
    assert float((hooked - folded).norm() / folded.norm()) < 1e-4
    assert float((unchanged - folded).norm() / folded.norm()) > 1e-2, "the adapter moved nothing"


_RSS_CHILD = """
import json, sys
from pathlib import Path
import torch
from transformers import AutoModelForCausalLM
from lora_lens_trainer.export.weights import WeightSource, _config, _shards
from lora_lens_trainer.streamed_forward import streamed_logits

folder, mode = Path(sys.argv[1]), sys.argv[2]
probe = torch.randint(0, 200, (2, 24), generator=torch.Generator().manual_seed(3))
source = WeightSource(folder, _config(folder), folder, _shards(folder))
def status(key):
    line = next(l for l in open("/proc/self/status") if l.startswith(key + ":"))
    return int(line.split()[1]) * 1024

# Warm up what both modes share (kernels, the skeleton's modules), then reset the peak (VmHWM) to the current RSS.
streamed_logits(folder, source.tensor, probe[:, :2], torch.device("cpu"), torch.float32)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS")
if mode == "streamed":
    streamed_logits(folder, source.tensor, probe, torch.device("cpu"), torch.float32)
else:
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    with torch.no_grad():
        model(input_ids=probe)
print(json.dumps({"growth_bytes": status("VmHWM") - before}))
"""


def _rss_growth(folder: Path, mode: str) -> int:
    import json
    import subprocess
    import sys

    from tests.cpu.trainer_process import TRAINER_DIR, env

    proc = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(folder), mode],
        cwd=TRAINER_DIR,
        env={**env(), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return int(json.loads(proc.stdout.strip().splitlines()[-1])["growth_bytes"])


@pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="resetting the peak RSS needs Linux's clear_refs"
)
def test_the_process_memory_of_the_streamed_forward_is_about_one_layer_not_the_model(tmp_path):
    """Peak RSS growth (VmHWM, reset after a warm-up; a fresh process each) of the streamed forward against the whole model loaded the
    usual way, on a model whose layers dominate (8 layers of 38 MB in fp32): the instrument sees the whole model in
    the second, and the streamed forward stays within a few layers (measured: 46-47 MiB against 439 MiB)."""
    folder = build_model_dir(tmp_path / "wide-llama", hidden=1024, layers=8)
    whole = _whole_model(folder)
    layers = decoder_layers(whole)
    model_bytes, one_layer = _bytes(whole.parameters()), _bytes(layers[0].parameters())
    del whole, layers
    streamed, loaded = _rss_growth(folder, "streamed"), _rss_growth(folder, "whole")
    print(
        f"\nRSS growth: streamed {streamed / 2**20:.0f} MiB, whole model {loaded / 2**20:.0f} MiB; "
        f"model {model_bytes / 2**20:.0f} MiB, one layer {one_layer / 2**20:.0f} MiB"
    )
    assert loaded > 0.8 * model_bytes, "the measure does not see a whole model loaded"
    assert streamed < 3 * one_layer < model_bytes / 2
