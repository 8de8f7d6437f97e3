"""Hub datasets as the users' tools read them: `hf://datasets/<owner>/<name>` with an optional query
(`?split=train&name=<subset>&revision=<rev>&data_files=<file>&data_files=<file>`), loaded with Hugging Face's
`datasets` library, which honours HF_HOME, HF_DATASETS_CACHE, HF_TOKEN and HF_HUB_OFFLINE (a dataset fetched once
is read from the cache with HF_HUB_OFFLINE=1). Where `datasets` has no prepared copy, the repo's files in the Hub cache
(`huggingface-cli download --repo-type dataset`, which the editor's inspection reads too: server/src/core/data/
hubCache.ts) are read as a local folder, with the same split and subset rules. The plan writes the reference
(core/plan/hubDataset.ts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .readers import DataError

PREFIX = "hf://datasets/"
_KNOWN = {"split", "name", "revision", "data_files"}


@dataclass(frozen=True)
class HubDataset:
    repo_id: str
    split: str
    name: str | None
    revision: str | None
    data_files: tuple[str, ...]


def parse_hub_ref(ref: str) -> HubDataset:
    if not ref.startswith(PREFIX):
        raise DataError(f"{ref}: not a Hub dataset reference (hf://datasets/<owner>/<name>)")
    parts = urlsplit(ref[len(PREFIX) :])
    repo_id = parts.path.strip("/")
    if not repo_id or repo_id == "(none)":
        raise DataError(f"{ref}: no dataset id; name one as <owner>/<name>")
    query = parse_qs(parts.query, keep_blank_values=False)
    unknown = sorted(set(query) - _KNOWN)
    if unknown:
        raise DataError(f"{ref}: unknown option {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})")

    def one(key: str) -> str | None:
        values = query.get(key)
        return values[-1] if values else None

    return HubDataset(
        repo_id, one("split") or "train", one("name"), one("revision"), tuple(query.get("data_files", []))
    )


def read_hub_dataset(ref: str) -> list[dict[str, Any]]:
    spec = parse_hub_ref(ref)
    try:
        import datasets
    except ImportError as error:
        raise DataError(
            f"{ref}: reading a Hub dataset needs the datasets package (pip install datasets), or download it and "
            "point data.train at the file"
        ) from error
    kwargs: dict[str, Any] = {"split": spec.split}
    if spec.name:
        kwargs["name"] = spec.name
    if spec.revision:
        kwargs["revision"] = spec.revision
    if spec.data_files:
        kwargs["data_files"] = list(spec.data_files)
    try:
        loaded = datasets.load_dataset(spec.repo_id, **kwargs)
    except Exception as error:  # offline misses, unknown splits and gated repos all arrive as different types
        snapshot = _cached_snapshot(spec)
        if snapshot is None:
            raise DataError(_load_error(ref, spec, error)) from error
        # The repo's files in the Hub cache (`huggingface-cli download --repo-type dataset`, which the editor reads
        # too): datasets reads the folder with the Hub's own split, subset and data_files rules.
        local = {key: value for key, value in kwargs.items() if key != "revision"}
        try:
            loaded = datasets.load_dataset(snapshot, **local)
        except Exception as second:
            raise DataError(_load_error(ref, spec, second)) from second
    rows = loaded.to_list()
    if rows and not all(isinstance(r, dict) for r in rows):
        raise DataError(f"{ref}: the dataset's rows are not records")
    return rows


def _cached_snapshot(spec: HubDataset) -> str | None:
    """The repo's snapshot folder in the Hugging Face Hub cache (HF_HUB_CACHE, HF_HOME/hub), without any request."""
    try:
        import huggingface_hub

        return str(
            huggingface_hub.snapshot_download(
                spec.repo_id, repo_type="dataset", revision=spec.revision, local_files_only=True
            )
        )
    except Exception:  # not cached, another revision cached, or no huggingface_hub
        return None


def _load_error(ref: str, spec: HubDataset, error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    unreachable = "reach" in text or "not cached" in text or "Couldn't find" in text
    hint = (
        "it is not in the datasets cache and HF_HUB_OFFLINE is set: run once online, or unset HF_HUB_OFFLINE, or "
        f"fetch it with `huggingface-cli download --repo-type dataset {spec.repo_id}`"
        if _offline() and unreachable
        else "check the id, split and subset; a gated or private dataset needs HF_TOKEN"
    )
    return f"{ref}: cannot load {spec.repo_id!r} (split {spec.split!r}): {text}; {hint}"


def _offline() -> bool:
    import os

    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
