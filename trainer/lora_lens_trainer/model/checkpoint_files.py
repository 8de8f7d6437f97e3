"""The tensors of a safetensors checkpoint folder, read from the files' headers, and one tensor read at a time.

A safetensors file is an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and
byte range, then the bytes. Reading a tensor here is one `readinto` of its range into a fresh CPU buffer: no file
mapping, so the process's resident memory grows by that tensor alone and the page cache is left to the kernel
(safe_open maps the whole shard, and the pages it touches count in the process's RSS until it is closed).
Every header is checked before any tensor is read, so a missing shard, an index naming an absent file or tensor, or a
truncated file is refused with the file and tensor named before anything is loaded.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import torch

INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"
# A header is a few hundred bytes per tensor; a length beyond this is a corrupt or foreign file.
MAX_HEADER_BYTES = 100 * 1024 * 1024

DTYPES: dict[str, torch.dtype] = {
    "BF16": torch.bfloat16,
    "F16": torch.float16,
    "F32": torch.float32,
    "F64": torch.float64,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
}


class CheckpointError(RuntimeError):
    """The checkpoint folder cannot be loaded as it is; the message names the file and the tensor."""


@dataclass(frozen=True)
class TensorEntry:
    name: str
    file: Path
    dtype: torch.dtype
    shape: tuple[int, ...]
    start: int  # absolute byte offset in `file`
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start


def read_header(path: Path) -> dict[str, TensorEntry]:
    """Every tensor of one safetensors file, checked against the file's size."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path}: not a safetensors file ({size} bytes, shorter than its header length)")
            (length,) = struct.unpack("<Q", head)
            if length > min(MAX_HEADER_BYTES, size - 8):
                raise CheckpointError(
                    f"{path}: not a safetensors file, or truncated (header of {length} bytes in a "
                    f"file of {size}); download it again"
                )
            header = json.loads(f.read(length))
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read: {error.strerror or error}") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: its safetensors header is not JSON ({error}); download it again") from error
    base = 8 + length
    out: dict[str, TensorEntry] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        out[name] = _entry(path, name, info, base, size)
    return out


def _entry(path: Path, name: str, info: object, base: int, size: int) -> TensorEntry:
    if not isinstance(info, dict) or info.get("dtype") not in DTYPES:
        dtype = info.get("dtype") if isinstance(info, dict) else info
        raise CheckpointError(
            f"{path}: tensor {name!r} has dtype {dtype!r}, which this loader does not read "
            f"(it reads {', '.join(DTYPES)})"
        )
    dtype = DTYPES[info["dtype"]]
    shape = tuple(int(d) for d in info.get("shape", []))
    begin, end = (int(v) for v in info.get("data_offsets", (0, -1)))
    numel = 1
    for d in shape:
        numel *= d
    if end - begin != numel * dtype.itemsize:
        raise CheckpointError(
            f"{path}: tensor {name!r} holds {end - begin} bytes, but its shape {list(shape)} in "
            f"{info['dtype']} needs {numel * dtype.itemsize}; the file is corrupt: download it again"
        )
    if base + end > size:
        raise CheckpointError(
            f"{path}: tensor {name!r} ends at byte {base + end} but the file has {size} bytes: the "
            f"file is truncated (an interrupted download?); download it again"
        )
    return TensorEntry(name, path, dtype, shape, base + begin, base + end)


def checkpoint_tensors(folder: Path) -> dict[str, TensorEntry] | None:
    """Every tensor of the folder's safetensors checkpoint (sharded with an index, or one file); None when the
    folder has no safetensors weights (a .bin checkpoint), which the caller loads another way."""
    index = folder / INDEX_NAME
    if index.is_file():
        return _sharded(folder, index)
    single = folder / SINGLE_NAME
    if single.is_file():
        return read_header(single)
    return None


def _sharded(folder: Path, index: Path) -> dict[str, TensorEntry]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(
            f"{index}: not a safetensors index with a weight_map ({error}); download it again"
        ) from error
    by_file: dict[str, list[str]] = {}
    for name, file in weight_map.items():
        by_file.setdefault(str(file), []).append(name)
    out: dict[str, TensorEntry] = {}
    for file, names in sorted(by_file.items()):
        path = folder / file
        if not path.is_file():
            raise CheckpointError(
                f"{index} names {file} (holding {_some(names)}), but {path} is not there: the "
                f"download is incomplete; fetch the missing shard again"
            )
        header = read_header(path)
        for name in names:
            if name not in header:
                raise CheckpointError(
                    f"{index} says tensor {name!r} is in {file}, but {path} has no such tensor; the "
                    f"index and the shards are from different downloads: fetch the model again"
                )
            out[name] = header[name]
    return out


def _some(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in sorted(names)[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def read_tensor(entry: TensorEntry) -> torch.Tensor:
    """The tensor's bytes, read into a new CPU tensor (little-endian, as safetensors stores them)."""
    buffer = torch.empty(entry.nbytes, dtype=torch.uint8)
    with entry.file.open("rb", buffering=0) as f:
        f.seek(entry.start)
        view = memoryview(buffer.numpy())  # type: ignore[arg-type]  # numpy arrays are buffers; its stubs say otherwise
        done = 0
        while done < entry.nbytes:
            got = f.readinto(view[done:])
            if not got:
                raise CheckpointError(f"{entry.file}: tensor {entry.name!r} ends early (the file shrank while loading)")
            done += got
        _drop_page_cache(f.fileno(), entry.start, entry.nbytes)
    return buffer.view(entry.dtype).reshape(entry.shape)


def _drop_page_cache(fd: int, start: int, length: int) -> None:
    # The bytes are copied into our buffer; keeping them cached too would double what a 140 GB read costs the machine.
    if hasattr(os, "posix_fadvise"):
        try:
            os.posix_fadvise(fd, start, length, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass
