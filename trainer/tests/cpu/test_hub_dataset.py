"""Hub datasets (`hf://datasets/<owner>/<name>?split=...`) read through Hugging Face's datasets library, offline,
from a dataset the test saves in the datasets cache layout itself (<cache>/<owner>___<name>/<config>/<version>/<hash>/,
as a download leaves it): the trainer's data path (objectives/sft.load_data) and the preview verb both read it."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lora_lens_trainer.data.hub import parse_hub_ref
from lora_lens_trainer.data.readers import DataError
from tests.plans import make_plan
from tests.tiny_model import COUNTRIES, build_tokenizer, chat_rows

# The cached layouts are written with datasets and pyarrow and the rows tokenized with tokenizers; the torch-free
# suite (no LORA_LENS_TEST_PYTHON venv) may lack them.
needs_hub_stack = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("datasets", "pyarrow", "tokenizers")),
    reason="needs datasets, pyarrow and tokenizers (bash scripts/setup-trainer-venv.sh installs them)",
)

TRAINER = Path(__file__).resolve().parents[2]


def _cached_dataset(root: Path, rows: list[dict]) -> dict[str, str]:
    """Saves `someone/tiny-chat` (config default, split train) in a datasets cache under root; returns the env."""
    env = {
        **os.environ,
        "HF_HOME": str(root / "hf"),
        "HF_DATASETS_CACHE": str(root / "hf" / "datasets"),
        "HF_HUB_OFFLINE": "1",
    }
    src = root / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    script = (
        "import sys\nfrom datasets.packaged_modules.json.json import Json\n"
        "b = Json(cache_dir=sys.argv[1], dataset_name='tiny-chat', config_name='default', "
        "data_files={'train': sys.argv[2]}, hash='0123abcd')\nb.download_and_prepare()\nprint(b.cache_dir)"
    )
    built = subprocess.run(
        [sys.executable, "-c", script, str(root / "build"), str(src)], env=env, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    dest = root / "hf" / "datasets" / "someone___tiny-chat" / "default" / "0.0.0" / "0123abcd"
    dest.parent.mkdir(parents=True)
    shutil.copytree(built.stdout.strip().splitlines()[-1], dest)
    shutil.rmtree(root / "build")
    return env


def test_a_reference_carries_split_subset_revision_and_data_files() -> None:
    spec = parse_hub_ref("hf://datasets/o/n?split=test&name=sub&revision=v1&data_files=a.json&data_files=b.json")
    assert (spec.repo_id, spec.split, spec.name, spec.revision, spec.data_files) == (
        "o/n",
        "test",
        "sub",
        "v1",
        ("a.json", "b.json"),
    )
    assert parse_hub_ref("hf://datasets/o/n").split == "train"
    with pytest.raises(DataError, match="unknown option 'splt'"):
        parse_hub_ref("hf://datasets/o/n?splt=x")


@needs_hub_stack
def test_training_and_the_preview_read_a_cached_hub_dataset_offline(tmp_path: Path) -> None:
    rows = chat_rows(9)
    env = _cached_dataset(tmp_path, rows)
    tok = tmp_path / "tok"
    build_tokenizer(tok, [m["content"] for r in rows for m in r["messages"]])
    plan = make_plan(str(tok), "hf://datasets/someone/tiny-chat?split=train", data__chat_template="auto")
    (tmp_path / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    script = (
        "import json, sys\nfrom lora_lens_trainer.plan import read_plan\n"
        "from lora_lens_trainer.modeling import load_tokenizer\nfrom lora_lens_trainer.objectives.sft import load_data\n"
        "plan = read_plan(sys.argv[1])\ndata = load_data(plan, load_tokenizer(plan))\n"
        "print(json.dumps({'items': len(data.train_items)}))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "plan.json")],
        cwd=TRAINER,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1])["items"] == 9
    preview = subprocess.run(
        [sys.executable, "-m", "lora_lens_trainer", "preview", "--plan", str(tmp_path / "plan.json"), "--rows", "2"],
        cwd=TRAINER,
        env=env,
        capture_output=True,
        text=True,
    )
    assert preview.returncode == 0, preview.stderr
    report = json.loads(preview.stdout)
    assert report["total_rows"] == 9 and report["dataset"].startswith("hf://datasets/someone/tiny-chat")
    assert "Paris" in "".join(report["rows"][0]["rendering"]["text"])
    # A split the dataset does not have, and a dataset not in the cache: the trainer says which and why.
    plan["data"]["train"] = "hf://datasets/someone/tiny-chat?split=test"
    (tmp_path / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, "-m", "lora_lens_trainer", "preview", "--plan", str(tmp_path / "plan.json")],
        cwd=TRAINER,
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "split 'test'" in bad.stderr and "Unknown split" in bad.stderr
    plan["data"]["train"] = "hf://datasets/someone/absent"
    (tmp_path / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    absent = subprocess.run(
        [sys.executable, "-m", "lora_lens_trainer", "preview", "--plan", str(tmp_path / "plan.json")],
        cwd=TRAINER,
        env=env,
        capture_output=True,
        text=True,
    )
    assert absent.returncode == 1 and "not in the datasets cache and HF_HUB_OFFLINE is set" in absent.stderr


def _kto_rows(n: int) -> list[dict]:
    return [
        {"prompt": f"What is the capital of {country}?", "completion": f"It is {capital}.", "label": i % 2 == 0}
        for i, (country, capital) in enumerate(COUNTRIES[:n])
    ]


@needs_hub_stack
def test_kto_reads_a_cached_hub_dataset_and_parquet_through_the_one_reader(tmp_path: Path) -> None:
    """KTO's rows come through readers.read_dataset like SFT's and DPO's: a Hub dataset offline, and a .parquet file."""
    rows = _kto_rows(8)
    env = _cached_dataset(tmp_path, rows)
    tok = tmp_path / "tok"
    build_tokenizer(tok, [r["prompt"] + " " + r["completion"] for r in rows])
    parquet = tmp_path / "kto.parquet"
    script = (
        "import json, sys\nimport pyarrow as pa, pyarrow.parquet as pq\n"
        "pq.write_table(pa.Table.from_pylist(json.loads(sys.argv[2])), sys.argv[1])\n"
        "from lora_lens_trainer.plan import read_plan\nfrom lora_lens_trainer.modeling import load_tokenizer\n"
        "from lora_lens_trainer.objectives.kto import load_items\n"
        "out = {}\nfor train in (sys.argv[3], sys.argv[1]):\n"
        "    plan = json.load(open(sys.argv[4]))\n    plan['data']['train'] = train\n"
        "    json.dump(plan, open(sys.argv[4], 'w'))\n"
        "    p = read_plan(sys.argv[4])\n    data = load_items(p, load_tokenizer(p))\n"
        "    out[train] = [it.desirable for it in data.train_items]\nprint(json.dumps(out))"
    )
    plan = make_plan(str(tok), "", data__format="text")
    plan["objective"] = "kto"
    plan["kto"] = {"beta": 0.1, "desirable_weight": 1.0, "undesirable_weight": 1.0}
    (tmp_path / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    hub = "hf://datasets/someone/tiny-chat?split=train"
    run = subprocess.run(
        [sys.executable, "-c", script, str(parquet), json.dumps(rows), hub, str(tmp_path / "plan.json")],
        cwd=TRAINER,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    labels = json.loads(run.stdout.strip().splitlines()[-1])
    assert labels == {hub: [r["label"] for r in rows], str(parquet): [r["label"] for r in rows]}


def _hub_snapshot(root: Path, repo: str, files: dict[str, list[dict]]) -> dict[str, str]:
    """The repo as `huggingface-cli download --repo-type dataset` leaves it (refs/main, snapshot links into blobs),
    its files written as Parquet by pyarrow; the env points HF_HUB_CACHE there, offline, with an empty datasets cache."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo_dir = root / "hub" / f"datasets--{repo.replace('/', '--')}"
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(commit, encoding="utf-8")
    for i, (name, rows) in enumerate(files.items()):
        blob = repo_dir / "blobs" / f"blob{i}"
        blob.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), blob)
        link = repo_dir / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(blob)
    return {
        **os.environ,
        "HF_HOME": str(root / "home"),
        "HF_HUB_CACHE": str(root / "hub"),
        "HF_DATASETS_CACHE": str(root / "datasets"),
        "HF_HUB_OFFLINE": "1",
    }


@needs_hub_stack
def test_a_dataset_fetched_with_huggingface_cli_is_read_offline_from_the_hub_cache(tmp_path: Path) -> None:
    """What the editor tells a user to run (`huggingface-cli download --repo-type dataset …`) is what training reads:
    the Hub cache's snapshot, its split picked by datasets' own rules (data/train-*, data/test-*)."""
    rows = chat_rows(12)
    env = _hub_snapshot(
        tmp_path,
        "someone/fetched",
        {"data/train-00000-of-00001.parquet": rows[:9], "data/test-00000-of-00001.parquet": rows[9:]},
    )
    tok = tmp_path / "tok"
    build_tokenizer(tok, [m["content"] for r in rows for m in r["messages"]])
    plan = make_plan(str(tok), "hf://datasets/someone/fetched", data__chat_template="auto")
    plan["data"]["eval"] = "hf://datasets/someone/fetched?split=test"
    (tmp_path / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    script = (
        "import json, sys\nfrom lora_lens_trainer.plan import read_plan\n"
        "from lora_lens_trainer.modeling import load_tokenizer\nfrom lora_lens_trainer.objectives.sft import load_data\n"
        "plan = read_plan(sys.argv[1])\ndata = load_data(plan, load_tokenizer(plan))\n"
        "print(json.dumps({'train': len(data.train_items), 'eval': len(data.eval_examples)}))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "plan.json")],
        cwd=TRAINER,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"train": 9, "eval": 3}
    # Not in either cache: the message names the command that fetches it.
    plan["data"]["train"], plan["data"]["eval"] = "hf://datasets/someone/elsewhere", None
    (tmp_path / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    absent = subprocess.run(
        [sys.executable, "-m", "lora_lens_trainer", "preview", "--plan", str(tmp_path / "plan.json")],
        cwd=TRAINER,
        env=env,
        capture_output=True,
        text=True,
    )
    assert absent.returncode == 1
    assert "huggingface-cli download --repo-type dataset someone/elsewhere" in absent.stderr


@needs_hub_stack
def test_the_evaluation_reads_a_hub_eval_set(tmp_path: Path) -> None:
    """`lora-lens eval` of a run whose data.eval (or --eval-file) names a Hub dataset reads it as training does."""
    rows = chat_rows(5)
    env = _hub_snapshot(tmp_path, "someone/evalset", {"test.parquet": rows})
    script = (
        "import json, sys\nfrom pathlib import Path\n"
        "from lora_lens_trainer.evaluate.cli import _eval_file_arg\n"
        "from lora_lens_trainer.evaluate.examples import read_eval_rows\n"
        "from lora_lens_trainer.evaluate.target import _eval_file\n"
        "ref = sys.argv[1]\nchosen = _eval_file(None, ref, Path('.'))\n"
        "print(json.dumps({'arg': _eval_file_arg(ref), 'chosen': chosen, 'rows': read_eval_rows(chosen, None)}))"
    )
    ref = "hf://datasets/someone/evalset?split=test"
    run = subprocess.run([sys.executable, "-c", script, ref], cwd=TRAINER, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"arg": ref, "chosen": ref, "rows": rows}
