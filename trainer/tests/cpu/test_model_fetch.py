"""The trainer fetches a model that is not on disk (model_fetch.py) from a Hub-shaped server on loopback: the real
trainer process, the real huggingface_hub (HF_ENDPOINT, HF_HOME, HF_TOKEN), a tiny Llama served file by file.
Checked: the download events and the run that follows; only the files training reads are fetched; a second run
downloads nothing; a stop signal mid-download ends the run as stopped; offline the error names `hf download`; a model
larger than the free disk is refused before any weight is requested."""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

pytest.importorskip("torch", reason="the fetch tests run the real trainer: they need torch (CPU is enough)")
pytest.importorskip("huggingface_hub", reason="the trainer downloads through huggingface_hub")

from tests.cpu.trainer_process import train, train_until, write_plan  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl  # noqa: E402

REPO = "tiny-org/tiny-llama"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "hf_test_token_123"
TIMEOUT_S = 120


class HubFiles:
    """A repository's files as the Hub describes them: LFS for weights (blob = sha256), git blobs for the rest."""

    def __init__(self, folder: Path, extra: dict[str, bytes]) -> None:
        self.content = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        self.content.update(extra)
        self.claimed_size: dict[str, int] = {}
        # A file whose second half the server sends only once `release` is set (a download caught mid-way).
        self.held: str | None = None
        self.release = threading.Event()

    def blob(self, name: str) -> str:
        data = self.content[name]
        if self.is_lfs(name):
            return hashlib.sha256(data).hexdigest()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    @staticmethod
    def is_lfs(name: str) -> bool:
        return name.endswith((".safetensors", ".bin"))

    def size(self, name: str) -> int:
        return self.claimed_size.get(name, len(self.content[name]))

    def sibling(self, name: str) -> dict:
        out: dict = {"rfilename": name, "size": self.size(name), "blobId": self.blob(name)}
        if self.is_lfs(name):
            out["lfs"] = {"size": self.size(name), "sha256": self.blob(name), "pointerSize": 134}
        return out

    def tree_entry(self, name: str) -> dict:
        out: dict = {"type": "file", "path": name, "size": self.size(name), "oid": self.blob(name)}
        if self.is_lfs(name):
            out["lfs"] = {"oid": self.blob(name), "size": self.size(name), "pointerSize": 134}
        return out


def hub_handler(files: HubFiles, log: list[tuple[str, str, dict]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def _json(self, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _missing(self) -> None:
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _route(self, head: bool) -> None:
            path = unquote(urlparse(self.path).path)
            log.append(("HEAD" if head else "GET", path, dict(self.headers)))
            if path in (
                f"/api/models/{REPO}",
                f"/api/models/{REPO}/revision/main",
                f"/api/models/{REPO}/revision/{COMMIT}",
            ):
                return self._json({"id": REPO, "sha": COMMIT, "siblings": [files.sibling(n) for n in files.content]})
            if path.startswith(f"/api/models/{REPO}/tree/{COMMIT}"):
                return self._json([files.tree_entry(n) for n in files.content])
            prefix = f"/{REPO}/resolve/"
            if not path.startswith(prefix):
                return self._missing()
            _rev, _, name = path[len(prefix) :].partition("/")
            if name not in files.content:
                return self._missing()
            self._file(name, head)

        def _file(self, name: str, head: bool) -> None:
            data = files.content[name]
            start = 0
            ranged = self.headers.get("Range")
            if ranged and ranged.startswith("bytes=") and not head:
                start = int(ranged[len("bytes=") :].split("-")[0])
            body = data[start:]
            self.send_response(206 if start else 200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{files.blob(name)}"')
            if files.is_lfs(name):
                self.send_header("X-Linked-Etag", f'"{files.blob(name)}"')
                self.send_header("X-Linked-Size", str(len(data)))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if head:
                return
            if name == files.held:
                half = len(body) // 2
                self.wfile.write(body[:half])
                self.wfile.flush()
                files.release.wait(TIMEOUT_S)
                body = body[half:]
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the trainer stopped and hung up

        def do_GET(self) -> None:  # noqa: N802
            self._route(head=False)

        def do_HEAD(self) -> None:  # noqa: N802
            self._route(head=True)

    return Handler


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("hub-model") / "tiny-llama", hidden=32, layers=1)


@pytest.fixture()
def hub(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[HubFiles, list]]:
    """The server, HF_ENDPOINT at it, a fresh HF_HOME, offline as the launcher starts the trainer."""
    files = HubFiles(model_dir, {"README.md": b"# tiny\n", "original/consolidated.safetensors": b"x" * 4096})
    log: list[tuple[str, str, dict]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), hub_handler(files, log))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("LORA_LENS_MODEL_DOWNLOAD", "1")
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield files, log
    finally:
        server.shutdown()
        server.server_close()


def hub_plan(tmp_path: Path, model: str = REPO) -> Path:
    run_dir = tmp_path / "run"
    tmp_path.mkdir(parents=True, exist_ok=True)
    plan = make_plan(
        model,
        str(write_jsonl(tmp_path / "train.jsonl", chat_rows(8))),
        training__max_steps=2,
        training__save_steps=100,
        data__max_length=64,
    )
    plan["output"] = {**plan["output"], "dir": str(tmp_path), "merge": False}
    write_plan(run_dir, plan)
    return run_dir


def weight_requests(log: list) -> list[str]:
    return [path for method, path, _ in log if method == "GET" and path.endswith(".safetensors")]


def snapshot(tmp_path: Path) -> Path:
    return tmp_path / "hf-home" / "hub" / f"models--{REPO.replace('/', '--')}" / "snapshots" / COMMIT


def test_a_model_not_on_disk_is_downloaded_then_trains(hub, tmp_path):
    files, log = hub
    rc, events, stderr = train(hub_plan(tmp_path))
    assert rc == 0, stderr[-3000:]
    downloads = [e for e in events if e["event"] == "download"]
    assert [downloads[0]["phase"], downloads[-1]["phase"]] == ["start", "done"]
    wanted = [n for n in files.content if "/" not in n and n != "README.md"]
    assert downloads[0]["total_bytes"] == sum(len(files.content[n]) for n in wanted)
    assert downloads[-1]["downloaded_bytes"] == downloads[-1]["total_bytes"] and downloads[0]["files"] == len(wanted)
    names = [e["event"] for e in events]
    assert names.index("download") < names.index("start") and events[-1]["status"] == "completed"
    assert sorted(p.name for p in snapshot(tmp_path).iterdir()) == sorted(wanted)
    assert weight_requests(log) == [f"/{REPO}/resolve/{COMMIT}/model.safetensors"]  # not original/, not README
    # Every request for the model's repository carries HF_TOKEN. huggingface_hub 1.33 also fetches its public
    # agent-harness registry (/api/agent-harnesses) from the endpoint once a day, without a token: not ours to check.
    repo_requests = [(path, headers) for _m, path, headers in log if REPO in path]
    assert repo_requests and all(
        headers.get("authorization") == f"Bearer {TOKEN}" or headers.get("Authorization") == f"Bearer {TOKEN}"
        for _path, headers in repo_requests
    ), [path for path, headers in repo_requests if "authorization" not in {k.lower() for k in headers}]


def test_a_second_run_downloads_nothing(hub, tmp_path):
    _files, log = hub
    assert train(hub_plan(tmp_path / "first"))[0] == 0
    log.clear()
    rc, events, stderr = train(hub_plan(tmp_path / "second"))
    assert rc == 0, stderr[-3000:]
    assert log == [] and not [e for e in events if e["event"] == "download"]


def test_offline_the_error_names_the_download_command(hub, tmp_path, monkeypatch):
    _files, log = hub
    monkeypatch.delenv("LORA_LENS_MODEL_DOWNLOAD")
    rc, events, _ = train(hub_plan(tmp_path))
    assert rc == 1 and log == []
    error = next(e for e in events if e["event"] == "error")
    assert error["kind"] == "model" and f"`hf download {REPO}`" in error["message"]
    assert events[-1]["status"] == "failed"


def test_a_name_the_hub_does_not_know_is_a_model_error_naming_the_endpoint_and_the_token(hub, tmp_path):
    rc, events, _ = train(hub_plan(tmp_path, "tiny-org/no-such-model"))
    assert rc == 1
    error = next(e for e in events if e["event"] == "error")
    assert error["kind"] == "model" and "was not found on the Hub at http://127.0.0.1:" in error["message"]
    assert "HF_TOKEN" in error["message"] and events[-1]["status"] == "failed"


def test_a_model_larger_than_the_free_disk_is_refused_before_any_weight(hub, tmp_path):
    files, log = hub
    files.claimed_size["model.safetensors"] = 2**60  # an exabyte: no test disk has it free
    rc, events, _ = train(hub_plan(tmp_path))
    assert rc == 1
    error = next(e for e in events if e["event"] == "error")
    assert error["kind"] == "model" and "GiB is free" in error["message"] and "HF_HOME" in error["message"]
    assert weight_requests(log) == [] and not [e for e in events if e["event"] == "download"]


def test_a_stop_signal_during_the_download_ends_the_run_as_stopped(hub, tmp_path):
    files, _log = hub
    # 24 MiB: more than one of huggingface_hub's 10 MiB chunks, so the download reports (and checks the stop) mid-file.
    files.content["tokenizer.model"] = bytes(24 * 1024**2)
    files.held = "tokenizer.model"
    run_dir = hub_plan(tmp_path)

    def release_once_the_stop_is_noted() -> None:
        # The rest of the file is sent only after the trainer has taken the signal, whatever the machine's speed.
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline and "SIGINT received" not in _read(run_dir / "trainer.log"):
            time.sleep(0.05)
        files.release.set()

    def stop_at_download_start(event: dict, proc) -> bool:
        if event["event"] == "download" and event["phase"] == "start":
            proc.send_signal(signal.SIGINT)
            threading.Thread(target=release_once_the_stop_is_noted, daemon=True).start()
            return True
        return False

    rc, events, stderr = train_until(run_dir, stop_at_download_start)
    assert rc == 0, stderr[-3000:]
    assert events[-1]["event"] == "end" and events[-1]["status"] == "stopped" and events[-1]["step"] == 0
    assert not [e for e in events if e["event"] in ("start", "error")]
    assert not (snapshot(tmp_path) / "tokenizer.model").exists()
    assert "stopped while downloading" in _read(run_dir / "trainer.log")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
