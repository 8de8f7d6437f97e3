"""The GGUF export quantizes a tensor's rows in pieces on several threads (gguf_file._encode): the bytes must be
exactly those of one gguf.quants.quantize call over the whole tensor, for every type it offers, with a last piece
shorter than the others."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")
gguf = pytest.importorskip("gguf", reason="the GGUF export needs the gguf package")

from lora_lens_trainer.export import gguf_file  # noqa: E402


@pytest.mark.parametrize("name", ["Q8_0", "Q5_1", "Q5_0", "Q4_1", "Q4_0", "BF16", "F16"])
def test_rows_quantized_in_pieces_give_the_bytes_of_one_call(name: str) -> None:
    qtype = gguf.GGMLQuantizationType[name]
    rows = 3 * gguf_file._ROWS_PER_PIECE + 17
    values = np.random.default_rng(0).standard_normal((rows, 96)).astype(np.float32)
    values[5, :32] = 0.0  # an all-zero block (its scale is 0)
    whole = gguf.quants.quantize(values, qtype)
    assert np.array_equal(gguf_file._encode(values, qtype), whole)


def test_an_export_without_gguf_says_how_to_install_it(tmp_path, monkeypatch, capsys) -> None:
    """The trainer's one line for the CLI and the editor (runs/export.ts trainerMessage), not a traceback."""
    import argparse
    import sys

    from lora_lens_trainer.__main__ import _export
    from tests.cpu.test_export_archs import synthetic_run

    run_dir = synthetic_run(tmp_path, "mistral")
    monkeypatch.setitem(sys.modules, "gguf", None)  # an interpreter without gguf: `import gguf` raises
    args = argparse.Namespace(run_dir=run_dir, format="gguf", quant="f16", out=None, reference=False)
    assert _export(args) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line == (
        f"lora_lens_trainer export: gguf is not installed in {sys.executable}; install it with "
        f"{sys.executable} -m pip install gguf==0.19.0 (lora-lens doctor lists what is installed)"
    )
    assert not (run_dir / "export").exists() or not any((run_dir / "export").iterdir())
