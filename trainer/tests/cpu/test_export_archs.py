"""The architectures beyond Llama and Qwen2 (Mistral, Qwen3, Gemma-2, Phi-3), each as a finished-run folder built
without training: a tiny random model of the architecture (norm weights randomised, so Gemma's +1 is visible) and a
PEFT adapter with non-zero B on every linear. The GGUF must name every tensor the llama.cpp way and carry each quirk;
test/export/llamaCppArchs.test.ts runs the same folders in llama.cpp."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the export tests need torch")
pytest.importorskip("peft", reason="the adapters are made with peft")
gguf = pytest.importorskip("gguf", reason="the GGUF export needs the gguf package (scripts/setup-trainer-venv.sh)")

from tests.cpu.trainer_process import TRAINER_DIR, env  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_tokenizer, chat_rows, tiny_config, write_jsonl  # noqa: E402

ARCHS = ["mistral", "qwen3", "gemma2", "phi3", "mistral-spm"]


def build_spm_tokenizer(folder: Path, corpus: list[str]) -> None:
    """A tokenizer of Llama 2's and Mistral's kind: BPE with byte fallback (the 256 <0xNN> tokens in the vocabulary),
    "▁" for spaces and before the text, ChatML on top."""
    from tokenizers import Tokenizer, decoders, models, normalizers, trainers
    from transformers import PreTrainedTokenizerFast

    from tests.tiny_model import CHATML

    specials = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"] + [f"<0x{i:02X}>" for i in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.decoder = decoders.Sequence(
        [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=700, special_tokens=specials))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="<|im_end|>", unk_token="<unk>", pad_token="</s>"
    )
    fast.chat_template = CHATML
    fast.save_pretrained(folder)


def _config(arch: str, vocab: int):
    import transformers

    if arch == "gemma2":
        # Gemma-2 checkpoints tie the head to the embedding; llama.cpp's gemma2 graph has no head of its own.
        return tiny_config(arch, vocab, tie_word_embeddings=True)
    common = dict(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=False,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=4,
        initializer_range=0.1,
    )
    specific = {
        "mistral": {"sliding_window": None},
        "qwen3": {"head_dim": 16},
        "phi3": {"resid_pdrop": 0.0, "embd_pdrop": 0.0},
    }
    classes = {"mistral": "MistralConfig", "qwen3": "Qwen3Config", "phi3": "Phi3Config"}
    return getattr(transformers, classes[arch])(**common, **specific[arch])


def synthetic_run(root: Path, arch: str, seed: int = 0) -> Path:
    """RUN_DIR with plan.json and adapter/ (PEFT's files and the tokenizer) over a tiny random `arch` model."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir = root / f"{arch}-lora"
    if (run_dir / "adapter" / "adapter_config.json").is_file():
        return run_dir
    model_dir = root / f"tiny-{arch}"
    model_dir.mkdir(parents=True, exist_ok=True)
    corpus = [m["content"] for row in chat_rows(64) for m in row["messages"]]
    (build_spm_tokenizer if arch.endswith("-spm") else build_tokenizer)(model_dir, corpus)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(_config(arch.removesuffix("-spm"), len(tokenizer)), dtype=torch.float32)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(torch.randn_like(p) * 0.2 + (0.0 if arch == "gemma2" else 1.0))
    model.save_pretrained(model_dir, safe_serialization=True)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn_like(p) * 0.1)
    peft_model.save_pretrained(run_dir / "adapter")
    tokenizer.save_pretrained(run_dir / "adapter")
    data = write_jsonl(root / "train.jsonl", chat_rows(8))
    plan = make_plan(str(model_dir), str(data), method="lora")
    plan["output"] = {
        "dir": str(root),
        "merge": False,
        "merge_dtype": "float32",
        "merge_base": "dequantized",
        "safe_serialization": True,
    }
    (run_dir / "plan.json").write_text(json.dumps(plan))
    return run_dir


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("export-archs")


@pytest.mark.parametrize("arch", ARCHS)
def test_every_tensor_gets_its_llama_cpp_name_and_the_quirks_are_applied(root, arch):
    run_dir = synthetic_run(root, arch)
    out = root / f"{arch}.f32.gguf"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lora_lens_trainer",
            "export",
            "--run-dir",
            str(run_dir),
            "--quant",
            "f32",
            "--out",
            str(out),
        ],
        cwd=TRAINER_DIR,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    reader = gguf.GGUFReader(out)
    expected_arch = "llama" if arch.startswith("mistral") else arch
    assert reader.fields["general.architecture"].contents() == expected_arch
    tensors = {t.name: t for t in reader.tensors}
    assert all(not name.startswith("model.") for name in tensors)
    from safetensors.torch import load_file

    base = load_file(str(root / f"tiny-{arch}" / "model.safetensors"))
    norm = torch.from_numpy(tensors["blk.0.attn_norm.weight"].data.copy())
    offset = 1.0 if arch == "gemma2" else 0.0
    assert torch.allclose(norm, base["model.layers.0.input_layernorm.weight"] + offset)
    if arch == "phi3":
        assert "blk.0.attn_qkv.weight" in tensors and "blk.0.attn_q.weight" not in tensors
        assert tuple(tensors["blk.0.ffn_up.weight"].shape) == (64, 256)  # gate and up, fused, as llama.cpp reads them
    if arch == "qwen3":
        assert "blk.0.attn_q_norm.weight" in tensors
    if arch == "mistral-spm":
        assert reader.fields["tokenizer.ggml.model"].contents() == "llama"
        assert reader.fields["tokenizer.ggml.add_space_prefix"].contents() is True
        tokens = reader.fields["tokenizer.ggml.tokens"].contents()
        types = reader.fields["tokenizer.ggml.token_type"].contents()
        assert types[tokens.index("<0x0A>")] == gguf.TokenType.BYTE
        scores = reader.fields["tokenizer.ggml.scores"].contents()
        merges = json.loads((run_dir / "adapter" / "tokenizer.json").read_text())["model"]["merges"]
        first = "".join(merges[0].split(" ") if isinstance(merges[0], str) else merges[0])
        assert (
            scores[tokens.index(first)] == 0.0
            and scores[tokens.index("".join(merges[5] if isinstance(merges[5], list) else merges[5].split(" ")))]
            == -5.0
        )
    if arch == "gemma2":
        assert reader.fields["gemma2.final_logit_softcapping"].contents() == pytest.approx(2.0)
        assert "blk.0.post_ffw_norm.weight" in tensors


def test_a_phi3_name_is_kept_only_with_the_tokens_llama_cpp_then_looks_up():
    from lora_lens_trainer.export.gguf_file import model_name

    assert (
        model_name("Phi-3-mini-4k-instruct", ["</s>", "<unk>", "<s>", "<|endoftext|>", "a"]) == "Phi-3-mini-4k-instruct"
    )
    assert model_name("tiny-phi3", ["<s>", "a"]) == "tiny-phi_3"
    assert model_name("Qwen2.5-0.5B", ["a"]) == "Qwen2.5-0.5B"


def test_an_untied_gemma2_head_is_refused_since_llama_cpp_would_ignore_it(root):
    run_dir = synthetic_run(root, "gemma2")
    model_dir = root / "tiny-gemma2"
    untied = root / "untied-gemma2"
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(model_dir, untied, dirs_exist_ok=True)
    weights = load_file(str(untied / "model.safetensors"))
    weights["lm_head.weight"] = weights["model.embed_tokens.weight"].clone()
    save_file(weights, str(untied / "model.safetensors"), metadata={"format": "pt"})
    copy = root / "untied-run"
    shutil.copytree(run_dir, copy, dirs_exist_ok=True)
    plan = json.loads((copy / "plan.json").read_text())
    plan["model"]["name_or_path"] = str(untied)
    (copy / "plan.json").write_text(json.dumps(plan))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lora_lens_trainer",
            "export",
            "--run-dir",
            str(copy),
            "--out",
            str(root / "untied.gguf"),
        ],
        cwd=TRAINER_DIR,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1 and "untied lm_head.weight" in proc.stderr and "--format merged" in proc.stderr
    assert not (root / "untied.gguf").exists()
