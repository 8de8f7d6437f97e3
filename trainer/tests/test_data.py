import json

import pytest

from lora_lens_trainer.data.clean import clean_rows, strip_html
from lora_lens_trainer.data.order import epoch_batches, group_by_length, pack, shuffled, total_steps
from lora_lens_trainer.data.readers import DataError, read_rows
from lora_lens_trainer.schedule import lr_factor, warmup_steps


def test_every_file_format_reads_the_same_rows(tmp_path):
    rows = [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": "d"}]
    (tmp_path / "x.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    (tmp_path / "x.json").write_text(json.dumps(rows))
    (tmp_path / "y.json").write_text(json.dumps({"data": rows}))
    (tmp_path / "x.csv").write_text("prompt,completion\na,b\nc,d\n")
    for name in ("x.jsonl", "x.json", "y.json", "x.csv"):
        assert read_rows(tmp_path / name) == rows


def test_reader_errors_name_file_and_line(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"a": 1}\n{broken\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: not JSON"):
        read_rows(tmp_path / "bad.jsonl")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(DataError, match="unsupported extension"):
        read_rows(tmp_path / "x.txt")
    with pytest.raises(DataError, match="no such file"):
        read_rows(tmp_path / "none.jsonl")


def test_cleaning_strips_html_keeps_roles_and_drops_exact_duplicates():
    assert strip_html("<p>Hi &amp; <b>bye</b></p><script>x()</script>") == "Hi & bye"
    rows = [
        {"messages": [{"role": "user", "content": "<i>q</i>"}]},
        {"messages": [{"role": "user", "content": "q"}]},
        {"text": "z"},
    ]
    cleaned, dropped = clean_rows(rows, dedupe=True, html_strip=True)
    assert dropped == 1 and cleaned == [{"messages": [{"role": "user", "content": "q"}]}, {"text": "z"}]
    kept, none = clean_rows(rows, dedupe=False, html_strip=False)
    assert none == 0 and kept == rows


def test_order_is_a_pure_function_of_seed_and_epoch():
    assert shuffled(50, 1, 0) == shuffled(50, 1, 0)
    assert shuffled(50, 1, 0) != shuffled(50, 1, 1) != shuffled(50, 2, 0)
    lengths = [(i * 37) % 101 for i in range(40)]
    a = epoch_batches(40, lengths, 4, 7, 3, True)
    assert a == epoch_batches(40, lengths, 4, 7, 3, True)
    assert sorted(i for b in a for i in b) == list(range(40))


def test_group_by_length_puts_similar_lengths_together_and_the_longest_first():
    lengths = [i % 10 * 10 + 1 for i in range(400)]
    order = group_by_length(shuffled(400, 0, 0), lengths, 4, 0, 0)
    batches = [order[i : i + 4] for i in range(0, 400, 4)]
    assert max(lengths[i] for i in batches[0]) == max(lengths)
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 10


def test_packing_fills_rows_without_exceeding_max_length():
    lengths = [5, 7, 3, 9, 2, 8]
    rows = pack(list(range(6)), lengths, 12)
    assert [r.members for r in rows] == [(0, 1), (2, 3), (4, 5)]
    assert [r.members for r in pack(list(range(6)), lengths, 10)] == [(0,), (1, 2), (3,), (4, 5)]
    assert all(sum(lengths[i] for i in r.members) <= 12 for r in rows)


def test_total_steps_and_schedule():
    assert total_steps(10, 4, 2, -1) == 6
    assert total_steps(10, 4, 0.5, -1) == 2
    assert total_steps(10, 4, 3, 7) == 7
    assert warmup_steps(100, 0, 0.03) == 3 and warmup_steps(100, 5, 0.5) == 5
    assert lr_factor("linear", 0, 10, 2) == 0 and lr_factor("linear", 1, 10, 2) == 0.5
    assert lr_factor("linear", 2, 10, 2) == 1 and lr_factor("linear", 10, 10, 2) == 0
    assert lr_factor("cosine", 6, 10, 2) == pytest.approx(0.5)
    assert lr_factor("constant_with_warmup", 1, 10, 2) == 0.5 and lr_factor("constant", 0, 10, 2) == 1
