"""The model fetched from the Hugging Face Hub before it loads, when it is not on disk and the launcher allows the Hub
(LORA_LENS_MODEL_DOWNLOAD=1: `lora-lens run` without --offline, Run Fine-Tune with loraLens.hub on).

The download is huggingface_hub's own (snapshot_download): its cache (HF_HOME / HF_HUB_CACHE), HF_TOKEN, HF_ENDPOINT,
its per-file locks and its retries (a Range request resumes a
file within the download; a whole file already in the cache is never fetched again). Only what training reads is fetched: the top-level config,
tokenizer and weight files (safetensors, else PyTorch .bin), and the repository's code with trust_remote_code. The
sizes come from the Hub's file metadata and are checked against the cache's free space before a byte is written.
Progress is a `download` event (phase start, progress, done), measured from the blobs on disk.

Everything else in the trainer stays offline: the launcher sets HF_HUB_OFFLINE=1, and only this download lifts it,
for its own duration."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .modeling import ModelError

if TYPE_CHECKING:
    from .events import EventWriter
    from .plan import ModelRef
    from .stop import StopFlag

ALLOW_ENV = "LORA_LENS_MODEL_DOWNLOAD"
TRAINING_FILES = [
    "config.json",
    "generation_config.json",
    "tokenizer*",
    "special_tokens_map.json",
    "vocab.*",
    "merges.txt",
    "added_tokens.json",
    "chat_template*",
    "*.tiktoken",
    "tokenizer.model",
]
SAFETENSORS = ["*.safetensors", "*.safetensors.index.json"]
PYTORCH_BIN = ["pytorch_model*.bin", "pytorch_model*.bin.index.json"]
# Room left on the cache's disk after the download: a full disk breaks the checkpoints that follow.
SPARE_BYTES = 256 * 1024**2
PROGRESS_EVERY_S = 1.0
GIB = 1024**3


class DownloadStopped(Exception):
    """A stop signal arrived during the download; the whole files fetched stay in the cache for the next run."""


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    blob: str  # the cache's blob name: the LFS sha256, else the git blob id


def download_allowed() -> bool:
    return os.environ.get(ALLOW_ENV) == "1"


def download_command(name: str) -> str:
    return f"hf download {name}"


def offline_message(name: str) -> str:
    return (
        f"model {name!r} is not on disk and the Hugging Face Hub is off for this run. Download it once with "
        f"`{download_command(name)}` (older huggingface_hub: `huggingface-cli download {name}`), or run without "
        f"--offline (in the editor: loraLens.hub) so the run fetches it, or point model at a local directory."
    )


def fetch_model(ref: ModelRef, events: EventWriter, stop: StopFlag) -> Path | None:
    """The model's snapshot folder after a download, or None when nothing had to be fetched (a local directory, a
    complete snapshot in the cache, a name that is not a Hub repository id) or the Hub is not allowed, in which case
    the loader's own message names the download command."""
    if Path(ref.name_or_path).expanduser().is_dir() or not _is_repo_id(ref.name_or_path):
        return None
    if cached_snapshot(ref) is not None:
        return None
    if not download_allowed():
        raise ModelError(offline_message(ref.name_or_path))
    with _online():
        return _download(ref, events, stop)


def _is_repo_id(name: str) -> bool:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if name.startswith((".", "/", "~")) or "\\" in name:
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def cached_snapshot(ref: ModelRef) -> Path | None:
    """The cached snapshot when it holds a config and every weight file its index names (a config alone, as the
    editor's Hub lookup leaves, is not a model)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        config = try_to_load_from_cache(ref.name_or_path, "config.json", revision=ref.revision)
    except (OSError, ValueError):
        return None
    if not isinstance(config, str):  # None, or the marker of a file known to be absent
        return None
    folder = Path(config).parent
    return folder if weights_complete(folder) else None


def weights_complete(folder: Path) -> bool:
    if not (folder / "config.json").is_file():
        return False
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = folder / index_name
        if index.is_file():
            try:
                shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                return False
            return all((folder / shard).is_file() for shard in shards)
    return (folder / "model.safetensors").is_file() or (folder / "pytorch_model.bin").is_file()


@contextmanager
def _online() -> Iterator[None]:
    """huggingface_hub reads HF_HUB_OFFLINE once at import into constants.HF_HUB_OFFLINE and checks that at every
    request: lifted here for the download only, then put back."""
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = False
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def _download(ref: ModelRef, events: EventWriter, stop: StopFlag) -> Path:
    from huggingface_hub import constants, snapshot_download

    name = ref.name_or_path
    files = _remote_files(ref)
    storage = Path(constants.HF_HUB_CACHE) / f"models--{name.replace('/', '--')}"
    total = sum(f.size for f in files)
    check_space(name, total - _present_bytes(storage, files), constants.HF_HUB_CACHE)
    progress = _Progress(events, name, files, storage, total)
    progress.emit("start")
    try:
        # The revision as asked (not the commit) so that the cache's refs/ maps it for the offline loader.
        folder = snapshot_download(
            name,
            revision=ref.revision,
            allow_patterns=[f.name for f in files],
            tqdm_class=_stop_checking_bar(stop, progress),
        )
    except DownloadStopped:
        raise
    except Exception as error:  # huggingface_hub raises httpx, OSError and its own HTTP errors
        raise ModelError(_failure_message(name, error)) from error
    if stop.requested:
        raise DownloadStopped(name)
    progress.emit("done")
    return Path(folder)


def _remote_files(ref: ModelRef) -> list[RemoteFile]:
    """The top-level files training reads, with their sizes, from the Hub's metadata."""
    from huggingface_hub import HfApi

    try:
        info = HfApi().model_info(ref.name_or_path, revision=ref.revision, files_metadata=True)
    except Exception as error:
        raise ModelError(_failure_message(ref.name_or_path, error)) from error
    siblings = [s for s in info.siblings or [] if "/" not in s.rfilename]
    names = [s.rfilename for s in siblings]
    weights = SAFETENSORS if any(fnmatch.fnmatch(n, "*.safetensors") for n in names) else PYTORCH_BIN
    patterns = TRAINING_FILES + weights + (["*.py"] if ref.trust_remote_code else [])
    files = [
        RemoteFile(s.rfilename, int(s.size or 0), s.lfs.sha256 if s.lfs else str(s.blob_id))
        for s in siblings
        if any(fnmatch.fnmatch(s.rfilename, p) for p in patterns)
    ]
    if "config.json" not in {f.name for f in files} or not any(_is_weights(f.name) for f in files):
        raise ModelError(
            f"{ref.name_or_path!r} on the Hub has no config.json and weights (*.safetensors or "
            f"pytorch_model*.bin) at its top level, so it is not a model the trainer can load; check the "
            f"name and revision on {_endpoint()}/{ref.name_or_path}"
        )
    return files


def _is_weights(name: str) -> bool:
    return name.endswith((".safetensors", ".bin"))


def check_space(name: str, needed: int, cache_dir: str) -> None:
    """Refuses a download the cache's disk cannot hold (with room to spare), before a byte is written."""
    probe = Path(cache_dir)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed + SPARE_BYTES > free:
        raise ModelError(
            f"downloading {name!r} needs {needed / GIB:.2f} GiB (+{SPARE_BYTES / GIB:.2f} GiB spare) "
            f"but {free / GIB:.2f} GiB is free in {cache_dir}: free space there, or point HF_HOME (or "
            f"HF_HUB_CACHE) at a disk with room, then start the run again"
        )


def _present_bytes(storage: Path, files: list[RemoteFile], partial: bool = False) -> int:
    """Bytes of these files in the cache's blobs: whole blobs, and with `partial` the `<blob>.<id>.incomplete` ones
    being written (huggingface_hub writes each process's own; a later process does not reuse them)."""
    present = 0
    blobs = storage / "blobs"
    for f in files:
        try:
            present += min((blobs / f.blob).stat().st_size, f.size)
            continue
        except OSError:
            pass
        if partial:
            try:
                present += min(max((p.stat().st_size for p in blobs.glob(f"{f.blob}*.incomplete")), default=0), f.size)
            except OSError:
                pass
    return present


class _Progress:
    """`download` events, at most one a second, from the bytes of the wanted blobs on disk (whichever thread calls)."""

    def __init__(self, events: EventWriter, name: str, files: list[RemoteFile], storage: Path, total: int) -> None:
        self.events, self.name, self.files, self.storage, self.total = events, name, files, storage, total
        self._lock = threading.Lock()
        self._last = 0.0

    def emit(self, phase: str) -> None:
        with self._lock:
            done = self.total if phase == "done" else min(_present_bytes(self.storage, self.files, True), self.total)
            self.events.emit(
                "download",
                model=self.name,
                phase=phase,
                downloaded_bytes=done,
                total_bytes=self.total,
                files=len(self.files),
            )
            self._last = time.monotonic()

    def tick(self) -> None:
        if time.monotonic() - self._last >= PROGRESS_EVERY_S:
            self.emit("progress")


def _stop_checking_bar(stop: StopFlag, progress: _Progress) -> type:
    """A silent tqdm for snapshot_download: every update (from its worker threads) reports progress and ends the
    download when a stop was asked for."""
    from tqdm.auto import tqdm

    class StopCheckingBar(tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("name", None)
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            if stop.requested:
                raise DownloadStopped(progress.name)
            progress.tick()
            return super().update(n)

    return StopCheckingBar


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def _failure_message(name: str, error: Exception) -> str:
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    detail = f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"
    if isinstance(error, GatedRepoError):
        return (
            f"{name!r} is gated on the Hub ({detail}): accept its terms on {_endpoint()}/{name}, then set HF_TOKEN "
            f"(or `hf auth login`) and start the run again"
        )
    if isinstance(error, RevisionNotFoundError):
        return f"{name!r} has no such revision on the Hub ({detail}): check model.revision"
    if isinstance(error, RepositoryNotFoundError):
        return (
            f"{name!r} was not found on the Hub at {_endpoint()} ({detail}): check the name; a private model "
            f"needs HF_TOKEN (or `hf auth login`)"
        )
    return (
        f"downloading {name!r} from {_endpoint()} failed ({detail}); the files fetched whole stay in the cache "
        f"and the next run fetches only the rest. Or download it yourself with `{download_command(name)}`"
    )
