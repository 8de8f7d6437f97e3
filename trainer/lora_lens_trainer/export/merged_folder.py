"""`--format merged`: the merged model as a safetensors folder that transformers and vLLM load (config.json,
model-0000N-of-0000M.safetensors with their index, the tokenizer), written tensor by tensor: at most one shard
(SHARD_BYTES) is in memory. The folder appears under its final name only once complete (atomic.staged_dir)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from .gguf_file import check_free_space
from .weights import WeightSource

SHARD_BYTES = 2 << 30
_COPIED = ["generation_config.json"]


def _shard_files(count: int) -> list[str]:
    return (
        ["model.safetensors"]
        if count == 1
        else [f"model-{i:05d}-of-{count:05d}.safetensors" for i in range(1, count + 1)]
    )


def write_merged(source: WeightSource, out: Path, dtype_name: str) -> dict[str, Any]:
    from ..atomic import staged_dir

    out.parent.mkdir(parents=True, exist_ok=True)
    check_free_space(out.parent, merged_bytes(source, dtype_name))
    with staged_dir(out) as tmp:
        written = write_merged_files(source, tmp, dtype_name)
    return dict(written, path=str(out))


def merged_bytes(source: WeightSource, dtype_name: str) -> int:
    import torch

    from ..modeling import DTYPES

    element = torch.tensor([], dtype=DTYPES[dtype_name]).element_size()
    return sum(element * _numel(source.shape(name)) for name in source.names()) + (64 << 20)


def write_merged_files(source: WeightSource, tmp: Path, dtype_name: str) -> dict[str, Any]:
    """The merged folder's files written into `tmp` (a folder the caller stages and renames)."""
    import torch
    from safetensors.torch import save_file

    from ..atomic import write_json
    from ..modeling import DTYPES

    dtype = DTYPES[dtype_name]
    element = torch.tensor([], dtype=dtype).element_size()
    sizes = {name: element * _numel(source.shape(name)) for name in source.names()}
    groups: list[list[str]] = [[]]
    for name in source.names():
        if groups[-1] and sum(sizes[n] for n in groups[-1]) + sizes[name] > SHARD_BYTES:
            groups.append([])
        groups[-1].append(name)
    files = _shard_files(len(groups))
    for file, names in zip(files, groups):
        save_file({n: source.tensor(n).to(dtype) for n in names}, str(tmp / file), metadata={"format": "pt"})
    if len(files) > 1:
        write_json(
            tmp / "model.safetensors.index.json",
            {
                "metadata": {"total_size": sum(sizes.values())},
                "weight_map": {n: f for f, names in zip(files, groups) for n in names},
            },
        )
    config = dict(source.config, dtype=dtype_name)
    config.pop("torch_dtype", None)
    config.pop("quantization_config", None)
    write_json(tmp / "config.json", config)
    for name in _COPIED:
        if (source.model_dir / name).is_file():
            shutil.copyfile(source.model_dir / name, tmp / name)
    _copy_tokenizer(source.tokenizer_dir, tmp)
    return {"path": str(tmp), "bytes": sum(sizes.values()), "dtype": dtype_name, "shards": len(files)}


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _copy_tokenizer(folder: Path, target: Path) -> None:
    for path in folder.iterdir():
        if path.is_file() and (
            path.name.startswith("tokenizer")
            or path.name.startswith("chat_template")
            or path.name in ("special_tokens_map.json", "vocab.json", "merges.txt")
        ):
            shutil.copyfile(path, target / path.name)
