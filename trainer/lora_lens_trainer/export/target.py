"""Where an export may write: `--out` never replaces what an export did not write. A merged folder is staged and
swapped in whole (atomic.staged_dir deletes the folder it replaces), so an existing folder is replaced only when it
holds nothing but a merged export's files, and never when it is (or holds) the run folder or the base model; a GGUF
replaces only an earlier GGUF (or an empty file)."""

from __future__ import annotations

import re
from pathlib import Path

from . import ExportError

# The files write_merged_files writes (merged_folder.py): shards, their index, config, the copied tokenizer files.
_MERGED_FILE = re.compile(
    r"model(-\d{5}-of-\d{5})?\.safetensors|model\.safetensors\.index\.json|config\.json|generation_config\.json"
    r"|tokenizer.*|chat_template.*|special_tokens_map\.json|vocab\.json|merges\.txt"
)
GGUF_MAGIC = b"GGUF"


def check_target(target: Path, fmt: str, protected: list[Path]) -> None:
    """Raises ExportError, saying what to do, when writing `target` would replace something the export did not
    write: a folder or file of the user's, the run folder, the base model or its tokenizer (`protected`)."""
    where = target.resolve()
    for folder in protected:
        kept = folder.resolve()
        if kept == where or where in kept.parents:
            raise ExportError(
                f"--out {target} would replace {folder}, which the export reads from; name a new folder "
                "(the default is RUN_DIR/export/)"
            )
    if not target.exists() and not target.is_symlink():
        return
    if fmt == "merged":
        _check_merged_folder(target)
    else:
        _check_gguf_file(target)


def _check_merged_folder(target: Path) -> None:
    if not target.is_dir():
        raise ExportError(f"--out {target} exists and is not a folder; name a new folder for the merged model")
    stray = sorted(p.name for p in target.iterdir() if not (p.is_file() and _MERGED_FILE.fullmatch(p.name)))
    if stray:
        shown = ", ".join(stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
        raise ExportError(
            f"--out {target} already holds files this export did not write ({shown}), and the merged folder "
            "replaces it whole; name a new folder (or remove that one first)"
        )


def _check_gguf_file(target: Path) -> None:
    if target.is_dir():
        raise ExportError(f"--out {target} is a folder; name the GGUF file to write (for example {target}/model.gguf)")
    with open(target, "rb") as fh:
        head = fh.read(len(GGUF_MAGIC))
    if head and head != GGUF_MAGIC:
        raise ExportError(
            f"--out {target} exists and is not a GGUF file; name a new file (an earlier GGUF export is replaced)"
        )
