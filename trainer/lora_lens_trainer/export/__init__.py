"""`export`: a finished run as a GGUF file (llama.cpp, Ollama, LM Studio) with an Ollama Modelfile beside it, or as
a merged safetensors folder (transformers, vLLM), written tensor by tensor (docs/export.md)."""

from __future__ import annotations


class ExportError(RuntimeError):
    """What is wrong with the run, the model or the disk, and what to do; the CLI prints it and exits 1."""


class ExportReportError(AssertionError):
    """The report does not match schemas/export-report.schema.json: a bug here, never the user's."""
