"""`doctor`: the environment as JSON, for the editor's pre-flight check and `lora-lens doctor`.
Never fails: every probe reports absence instead of raising."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import shutil
import sys
import sysconfig
from typing import Any


def _version(module: str) -> dict[str, Any]:
    try:
        mod = importlib.import_module(module)
    except Exception as error:  # bitsandbytes raises RuntimeError on a broken CUDA setup
        return {"installed": False, "version": None, "error": f"{type(error).__name__}: {error}".splitlines()[0][:300]}
    version = getattr(mod, "__version__", None)
    if version is None:  # gguf, among others, has no __version__: its distribution's metadata has it
        try:
            version = importlib.metadata.version(module)
        except Exception:
            version = None
    return {"installed": True, "version": str(version) if version is not None else None, "error": None}


# The one list of packages the trainer cannot run without; every caller reads it from the report.
REQUIRED_PACKAGES = ("torch", "transformers", "peft", "safetensors")
# gguf: llama.cpp's writer, what `lora-lens export --format gguf` writes with (pure Python, imported in milliseconds).
OPTIONAL_PACKAGES = ("accelerate", "bitsandbytes", "pyarrow", "gguf")


# The user's own training tools: distribution name -> console script it installs. Read through importlib.metadata
# only: importing axolotl or llamafactory pulls in torch, deepspeed and more, seconds of work for a version string.
TOOLS = {
    "axolotl": ("axolotl", "axolotl"),
    "llama-factory": ("llamafactory", "llamafactory-cli"),
    "trl": ("trl", "trl"),
}


def _tool(distribution: str, script: str) -> dict[str, Any]:
    try:
        version: str | None = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        version = None
    except Exception:  # a broken dist-info: not installed as far as a run can tell
        version = None
    beside = os.path.join(sysconfig.get_path("scripts") or os.path.dirname(sys.executable), script)
    executable = beside if os.access(beside, os.X_OK) else shutil.which(script)
    return {"installed": version is not None, "version": version, "executable": executable}


def report() -> dict[str, Any]:
    """The report, shaped as schemas/doctor.schema.json says (the tests validate it on both sides)."""
    out: dict[str, Any] = {
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "packages": {name: _version(name) for name in REQUIRED_PACKAGES + OPTIONAL_PACKAGES},
        "required_packages": list(REQUIRED_PACKAGES),
        "cuda": {"available": False, "version": None, "gpus": []},
        "tools": {name: _tool(dist, script) for name, (dist, script) in TOOLS.items()},
        "gpu_count": 0,
    }
    if out["packages"]["torch"]["installed"]:
        import torch

        out["cuda"]["version"] = torch.version.cuda
        if torch.cuda.is_available():
            out["cuda"]["available"] = True
            for i in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(i)
                out["cuda"]["gpus"].append(
                    {
                        "index": i,
                        "name": props.name,
                        "memory_bytes": int(props.total_memory),
                        "compute_capability": f"{props.major}.{props.minor}",
                        "bf16": bool(props.major >= 8),
                    }
                )
    out["gpu_count"] = len(out["cuda"]["gpus"])
    out["quantization_backend"] = "bitsandbytes" if out["packages"]["bitsandbytes"]["installed"] else "builtin-nf4"
    return out
