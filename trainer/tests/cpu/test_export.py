"""`export` on the CPU with the real trainer: a tiny Llama (untied head, permuted q/k) and a tiny Qwen2 (q/k/v
biases, tied head) trained a few LoRA or QLoRA steps, exported to GGUF and read back with llama.cpp's own reader
(gguf.GGUFReader): the tensors undo to the merged model, the metadata carries the tokenizer, the end-of-turn id and
the chat template; --format merged loads in transformers and reproduces PEFT's adapter model; bad input gets a
message and leaves nothing behind. Running the file in llama.cpp is test/export/llamaCpp.test.ts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the export tests train with the real trainer: they need torch")
pytest.importorskip("transformers", reason="the export tests need transformers")
pytest.importorskip("peft", reason="the reference goes through peft")
gguf = pytest.importorskip("gguf", reason="the GGUF export needs the gguf package (scripts/setup-trainer-venv.sh)")

from lora_lens_trainer.export import ExportError  # noqa: E402
from lora_lens_trainer.export.architectures import permute_rows  # noqa: E402
from lora_lens_trainer.export.gguf_file import check_free_space, check_quant  # noqa: E402
from tests.cpu.trainer_process import TRAINER_DIR, env, train, write_plan  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, build_tokenizer, chat_rows, write_jsonl  # noqa: E402

QLORA = {
    "load_in_4bit": True,
    "bnb_4bit_quant_type": "nf4",
    "bnb_4bit_use_double_quant": True,
    "bnb_4bit_compute_dtype": "bfloat16",
    "prepare_for_kbit_training": True,
}


def build_qwen2_dir(folder: Path, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """A tiny Qwen2 (q/k/v biases, head tied to the embedding) with the tiny Llama's ChatML tokenizer."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    corpus = [m["content"] for row in chat_rows(64) for m in row["messages"]]
    build_tokenizer(folder, corpus + ["The quick brown fox jumps over the lazy dog. 12 + 30 = 42."] * 4)
    # transformers' Qwen2 tokenizer class adds <|endoftext|>: counted once config.json names the model type. Three
    # unused embedding rows past the tokenizer, as real Qwen2 checkpoints have (151,936 rows, 151,665 tokens).
    Qwen2Config().save_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.save_pretrained(folder)
    vocab = len(tokenizer) + 3
    config = Qwen2Config(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=4,
        pad_token_id=0,
        initializer_range=0.1,
    )
    torch.manual_seed(seed)
    Qwen2ForCausalLM(config).to(torch.bfloat16).save_pretrained(folder, safe_serialization=True)
    return folder


def train_run(root: Path, arch: str, method: str, steps: int = 40) -> Path:
    """A finished run folder of `method` on a tiny model of `arch` (llama or qwen2), trained on the chat rows until
    it answers them (and ends its turn)."""
    model = root / f"tiny-{arch}"
    if not (model / "config.json").is_file():
        (build_model_dir if arch == "llama" else build_qwen2_dir)(model, hidden=64, layers=2)
    data = write_jsonl(root / "train.jsonl", chat_rows(32))
    plan = make_plan(
        str(model),
        str(data),
        method=method,
        training__max_steps=steps,
        training__learning_rate=1e-2,
        training__save_steps=1000,
        lora__target_modules="all-linear",
    )
    if method == "qlora":
        plan["quantization"] = dict(QLORA)
    plan["output"] = {
        "dir": str(root),
        "merge": False,
        "merge_dtype": "float32",
        "merge_base": "dequantized",
        "safe_serialization": True,
    }
    run_dir = root / f"{arch}-{method}"
    write_plan(run_dir, plan)
    rc, events, stderr = train(run_dir)
    assert rc == 0 and events[-1]["status"] == "completed", stderr[-3000:]
    return run_dir


def export(run_dir: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lora_lens_trainer", "export", "--run-dir", str(run_dir), *flags],
        cwd=TRAINER_DIR,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _report(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("export")
    return {
        "root": root,
        "llama-lora": train_run(root, "llama", "lora"),
        "qwen2-qlora": train_run(root, "qwen2", "qlora"),
    }


def _peft_state(run_dir: Path, merge_base_4bit: bool) -> dict[str, torch.Tensor]:
    """The merged weights through PEFT (independent of the exporter), fp32."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from lora_lens_trainer import merge as merge_mod
    from lora_lens_trainer.plan import read_plan

    plan = read_plan(run_dir / "plan.json")
    dtype = torch.bfloat16 if merge_base_4bit else torch.float32
    base = AutoModelForCausalLM.from_pretrained(plan.model.name_or_path, dtype=dtype)
    if merge_base_4bit:
        merge_mod._round_trip_4bit(base, plan, "builtin-nf4", torch.device("cpu"))
    model = PeftModel.from_pretrained(base.float(), str(run_dir / "adapter")).merge_and_unload()
    return {k: v.float() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("which,arch,permuted", [("llama-lora", "llama", True), ("qwen2-qlora", "qwen2", False)])
def test_gguf_tensors_are_the_merged_model_in_llama_cpp_layout(runs, which, arch, permuted):
    report = _report(export(runs[which], "--quant", "f32"))
    reader = gguf.GGUFReader(report["path"])
    assert reader.fields["general.architecture"].contents() == arch
    tensors = {t.name: t for t in reader.tensors}
    expected = _peft_state(runs[which], which.endswith("qlora"))
    heads, kv = 4, 2
    q = expected["model.layers.1.self_attn.q_proj.weight"]
    k = expected["model.layers.1.self_attn.k_proj.weight"]
    if permuted:
        q, k = (torch.from_numpy(permute_rows(q.numpy(), heads)), torch.from_numpy(permute_rows(k.numpy(), kv)))
    for gguf_name, want in [
        ("blk.1.attn_q.weight", q),
        ("blk.1.attn_k.weight", k),
        ("blk.0.ffn_down.weight", expected["model.layers.0.mlp.down_proj.weight"]),
        ("token_embd.weight", expected["model.embed_tokens.weight"]),
    ]:
        got = torch.from_numpy(tensors[gguf_name].data.copy()).reshape(want.shape)
        assert torch.allclose(got, want, atol=2e-6, rtol=1e-5), gguf_name
    # Tied head (Qwen2 here): no output.weight, llama.cpp reuses token_embd; untied (Llama): written.
    assert ("output.weight" in tensors) == (arch == "llama")
    if arch == "qwen2":
        assert "blk.0.attn_q.bias" in tensors


def test_gguf_metadata_carries_the_tokenizer_eot_and_chat_template(runs):
    report = _report(export(runs["llama-lora"], "--quant", "q8_0"))
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(runs["llama-lora"] / "adapter")
    fields = gguf.GGUFReader(report["path"]).fields
    tokens = fields["tokenizer.ggml.tokens"].contents()
    assert fields["tokenizer.ggml.model"].contents() == "gpt2" and fields["tokenizer.ggml.pre"].contents() == "gpt-2"
    assert tokens[: len(tokenizer)] == [tokenizer.convert_ids_to_tokens(i) for i in range(len(tokenizer))]
    assert fields["tokenizer.ggml.merges"].contents()[:3] == [
        " ".join(m)
        for m in json.loads((runs["llama-lora"] / "adapter" / "tokenizer.json").read_text())["model"]["merges"][:3]
    ]
    eot = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert fields["tokenizer.ggml.eot_token_id"].contents() == eot
    assert fields["tokenizer.ggml.eos_token_id"].contents() == tokenizer.eos_token_id
    assert fields["tokenizer.chat_template"].contents() == tokenizer.chat_template
    assert report["tensor_types"] == ["F32", "Q8_0"]
    modelfile = Path(report["modelfile"]).read_text()
    assert modelfile.startswith(f"FROM ./{Path(report['path']).name}\n")
    assert 'PARAMETER stop "<|im_end|>"' in modelfile and "<|im_start|>{{ .Role }}" in modelfile


def test_merged_folder_loads_in_transformers_and_matches_peft(runs, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "merged"
    report = _report(export(runs["qwen2-qlora"], "--format", "merged", "--out", str(out)))
    assert report["path"] == str(out) and AutoTokenizer.from_pretrained(out).chat_template
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    expected = _peft_state(runs["qwen2-qlora"], True)
    for name, value in model.state_dict().items():
        assert torch.allclose(value, expected[name], atol=2e-6), name


def test_a_run_without_a_finished_adapter_is_refused_with_what_to_do(runs, tmp_path):
    run_dir = tmp_path / "unfinished"
    run_dir.mkdir()
    (run_dir / "plan.json").write_text((runs["llama-lora"] / "plan.json").read_text())
    proc = export(run_dir)
    assert proc.returncode == 1
    assert "no finished adapter" in proc.stderr and "lora-lens resume" in proc.stderr
    assert not (run_dir / "export").exists()


def test_an_unknown_architecture_and_a_k_quant_are_refused_with_what_to_do(runs, tmp_path):
    import shutil

    base = tmp_path / "gpt2ish"
    shutil.copytree(json.loads((runs["llama-lora"] / "plan.json").read_text())["model"]["name_or_path"], base)
    config = json.loads((base / "config.json").read_text())
    (base / "config.json").write_text(json.dumps(dict(config, architectures=["FalconForCausalLM"])))
    run_dir = tmp_path / "falcon"
    shutil.copytree(runs["llama-lora"], run_dir, ignore=shutil.ignore_patterns("export"))
    plan = json.loads((run_dir / "plan.json").read_text())
    plan["model"]["name_or_path"] = str(base)
    (run_dir / "plan.json").write_text(json.dumps(plan))
    proc = export(run_dir)
    assert proc.returncode == 1 and "FalconForCausalLM" in proc.stderr and "--format merged" in proc.stderr
    assert not (run_dir / "export").exists() or not list((run_dir / "export").glob("*.gguf"))
    with pytest.raises(ExportError, match="llama-quantize"):
        check_quant("q4_k_m")


def test_too_little_disk_is_refused_before_writing(tmp_path):
    with pytest.raises(ExportError, match="GiB free, the export needs"):
        check_free_space(tmp_path, 1 << 60)


def test_an_interrupted_export_leaves_no_gguf_and_no_temporary(runs, tmp_path):
    """A failure in the middle of the tensor data (here the third tensor cannot be read) removes the temporary."""
    from lora_lens_trainer.export import weights
    from lora_lens_trainer.export.run import export_run
    from lora_lens_trainer.plan import read_plan

    class Failing(weights.WeightSource):
        reads = 0

        def tensor(self, name):
            Failing.reads += 1
            if Failing.reads == 3:
                raise OSError("read error in the third tensor")
            return super().tensor(name)

    run_dir = runs["llama-lora"]
    plan = read_plan(run_dir / "plan.json")
    real = weights.weight_source(run_dir, plan)
    original = weights.weight_source
    from lora_lens_trainer.export import run as run_mod

    run_mod.weight_source = lambda *_: Failing(**real.__dict__)
    try:
        with pytest.raises(OSError, match="third tensor"):
            export_run(run_dir, plan, "gguf", "f16", tmp_path / "x.gguf", False)
    finally:
        run_mod.weight_source = original
    assert sorted(p.name for p in tmp_path.iterdir()) == []
