import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectDataset } from '../../server/src/core/data';
import { readNumRows } from '../../server/src/core/data/parquet';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-lens-data-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const chat = (user: string, assistant: string) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ],
  });

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

test('chat JSON lines: malformed, mismatched, duplicate, blank, empty and HTML rows with their line numbers', async () => {
  const lines = [
    chat('What is LoRA?', 'A low-rank adapter.'), //          1
    '{"messages": [{"role": "user", "content": "cut', //       2 malformed
    chat('What is QLoRA?', 'LoRA on a <b>4-bit</b> base.'), // 3 html
    '', //                                                     4 blank
    JSON.stringify({ conversations: [{ from: 'human', value: 'hi' }] }), // 5 ShareGPT
    chat('What is LoRA?', 'A low-rank adapter.'), //          6 duplicate of 1
    chat('', ''), //                                           7 empty text
    JSON.stringify({ messages: [{ role: 'user', content: 'no answer' }] }), // 8 no assistant
  ];
  const path = file('train.jsonl', `${lines.join('\n')}\n`);
  const facts = await inspectDataset(path, { format: 'chat' });
  assert.equal(facts.exists, true);
  assert.equal(facts.estimated, false);
  assert.equal(facts.rows, 7);
  assert.deepEqual(
    facts.unparsable.first.map((r) => r.line),
    [2],
  );
  assert.deepEqual(
    facts.mismatched.first.map((r) => r.line),
    [5, 8],
  );
  assert.match(facts.mismatched.first[0]!.reason!, /ShareGPT/);
  assert.match(facts.mismatched.first[1]!.reason!, /no assistant message/);
  assert.deepEqual(
    facts.duplicates.first.map((r) => r.line),
    [6],
  );
  assert.deepEqual(
    facts.empty.first.map((r) => r.line),
    [4, 7],
  );
  assert.deepEqual(
    facts.html.first.map((r) => r.line),
    [3],
  );
  assert.equal(facts.lengths?.exact, false);
  assert.ok(facts.lengths!.max > 0);
});

test('CRLF line endings and a UTF-8 BOM are not data errors', async () => {
  const rows = Array.from({ length: 20 }, (_, i) =>
    JSON.stringify({ prompt: `question ${i} é`, completion: `answer ${i}` }),
  );
  const path = file('crlf.jsonl', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(rows.join('\r\n'))]));
  const facts = await inspectDataset(path, { format: 'instruction' });
  assert.equal(facts.rows, 20);
  assert.equal(facts.unparsable.count, 0);
  assert.equal(facts.mismatched.count, 0);
  assert.equal(facts.empty.count, 0);
});

test('CSV with a BOM, CRLF, quoted commas, quotes and line breaks', async () => {
  const csv =
    '\ufeffprompt,completion\r\n"Hello, you","He said ""hi""\r\nthen left"\r\nplain,row\r\nshort\r\n\r\nplain,row\r\n';
  const facts = await inspectDataset(file('rows.csv', csv), { format: 'instruction' });
  assert.equal(facts.rows, 4);
  assert.deepEqual(
    facts.unparsable.first.map((r) => r.line),
    [5],
  );
  assert.deepEqual(
    facts.empty.first.map((r) => r.line),
    [6],
  );
  assert.deepEqual(
    facts.duplicates.first.map((r) => r.line),
    [7],
  );
  assert.equal(facts.mismatched.count, 0);
  const text = await inspectDataset(file('text.csv', 'text\nhello\n'), { format: 'chat' });
  assert.match(text.mismatched.first[0]!.reason!, /no "messages" list/);
});

test('a .json array reports record indexes; an invalid one a line', async () => {
  const facts = await inspectDataset(file('rows.json', JSON.stringify([{ text: 'a' }, { txt: 'b' }, { text: 'a' }])), {
    format: 'text',
  });
  assert.equal(facts.rows, 3);
  assert.deepEqual(
    facts.mismatched.first.map((r) => r.index),
    [1],
  );
  assert.deepEqual(
    facts.duplicates.first.map((r) => r.index),
    [2],
  );
  const broken = await inspectDataset(file('broken.json', '[\n{"text": "a"},\n{"text": }\n]'), { format: 'text' });
  assert.equal(broken.unparsable.count, 1);
  assert.equal(broken.unparsable.first[0]!.line, 3);
});

test('missing files, unknown kinds and a Parquet footer’s row count checked against its row groups', async () => {
  assert.equal((await inspectDataset(join(dir, 'nope.jsonl'), { format: 'chat' })).exists, false);
  assert.match((await inspectDataset(file('rows.txt', 'x'), { format: 'text' })).skipped!, /only .jsonl/);
  const footer = thriftFileMetaData(123_456_789);
  assert.equal(readNumRows(footer), 123_456_789);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(footer.length);
  const parquet = await inspectDataset(
    file('rows.parquet', Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(64), footer, length, Buffer.from('PAR1')])),
    { format: 'text' },
  );
  // No row group: the footer's count is one word its pages do not back, so the pages' count (none) is used.
  assert.equal(parquet.rows, 0);
  assert.match(parquet.note ?? '', /the footer claims 123,456,789 rows; its pages hold 0/);
  assert.equal(parquet.skipped, undefined);
  assert.match(
    (await inspectDataset(file('fake.parquet', 'not parquet at all'), { format: 'text' })).skipped!,
    /footer/,
  );
});

test('token lengths are exact with a tokenizer.json on disk, estimated without', async () => {
  const tokenizer = file(
    'tokenizer.json',
    JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: null,
      post_processor: null,
      decoder: null,
      pre_tokenizer: { type: 'Whitespace' },
      model: { type: 'WordLevel', vocab: { '[UNK]': 0, a: 1 }, unk_token: '[UNK]' },
    }),
  );
  const words = (n: number) => Array.from({ length: n }, () => 'a').join(' ');
  const path = file('lengths.jsonl', [10, 20, 30, 400].map((n) => JSON.stringify({ text: words(n) })).join('\n'));
  const exact = await inspectDataset(path, { format: 'text', tokenizerPath: tokenizer });
  assert.equal(exact.lengths?.exact, true);
  assert.deepEqual(exact.lengths?.sample, [10, 20, 30, 400]);
  const estimated = await inspectDataset(path, { format: 'text', tokenizerPath: join(dir, 'missing.json') });
  assert.equal(estimated.lengths?.exact, false);
  assert.equal(estimated.lengths?.max, Math.ceil(words(400).length / 3.6));
});

test('a 200 MB file is read within its bounds and its row count extrapolated', async () => {
  const path = join(dir, 'big.jsonl');
  const fd = openSync(path, 'w');
  const filler = 'x'.repeat(400);
  let rows = 0;
  try {
    while (statSync(path).size < 200 * 1024 * 1024) {
      const batch: string[] = [];
      for (let i = 0; i < 8000; i++) batch.push(chat(`question ${rows++} ${filler}`, 'answer'));
      writeSync(fd, `${batch.join('\n')}\n`);
    }
  } finally {
    closeSync(fd);
  }
  const facts = await inspectDataset(path, { format: 'chat', maxBytes: 16 * 1024 * 1024, maxMs: 3000 });
  rmSync(path);
  // The bound is in bytes (time is out of pass/fail: a loaded machine stalls): an estimate from at most 16 MiB.
  assert.equal(facts.estimated, true);
  assert.ok(facts.scannedBytes <= 16 * 1024 * 1024 + 256 * 1024);
  assert.ok(Math.abs(facts.rows - rows) / rows < 0.02, `${facts.rows} estimated vs ${rows} rows`);
  assert.equal(facts.unparsable.count, 0);
  assert.equal(facts.duplicates.count, 0);
});

/** FileMetaData {1: version i32, 2: schema list<struct{4: name binary}>, 3: num_rows i64, 4: row_groups list<struct>} */
function thriftFileMetaData(numRows: number): Buffer {
  const bytes: number[] = [];
  const varint = (value: bigint) => {
    let v = value;
    while (v >= 0x80n) {
      bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    bytes.push(Number(v));
  };
  const zigzag = (n: bigint) => varint(n >= 0n ? n << 1n : (-n << 1n) - 1n);
  bytes.push(0x15);
  zigzag(1n); //                                   field 1, i32
  bytes.push(0x19, 0x2c); //                                          field 2, list of 2 structs
  for (const name of ['schema', 'text']) {
    bytes.push(0x48);
    varint(BigInt(name.length));
    bytes.push(...Buffer.from(name)); // field 4, binary
    bytes.push(0x11); //                                              field 5, bool true
    bytes.push(0x00);
  }
  bytes.push(0x16);
  zigzag(BigInt(numRows)); //                       field 3, i64
  bytes.push(0x19, 0x0c); //                                          field 4, empty list of structs
  bytes.push(0x00);
  return Buffer.from(bytes);
}

test('a CSV whose last quoted field is never closed: that record is unparsable at its line, and the file says why', async () => {
  const facts = await inspectDataset(file('open.csv', 'prompt,completion\nfine,row\n"never closed,row\n'), {
    format: 'instruction',
  });
  assert.equal(facts.mismatched.count, 0);
  assert.deepEqual(facts.unparsable.first, [{ line: 3 }, { line: undefined, reason: 'a quoted field is not closed' }]);
});

test('a JSON-lines file past maxBytes is read to the bound: rows extrapolated, the last line without a newline kept otherwise', async () => {
  const row = (i: number) => JSON.stringify({ text: `row number ${i} ${'x'.repeat(40)}` });
  const rows = Array.from({ length: 20_000 }, (_, i) => row(i));
  const path = file('big.jsonl', rows.join('\n'));
  const bounded = await inspectDataset(path, { format: 'text', maxBytes: 1 });
  assert.equal(bounded.estimated, true);
  assert.ok(bounded.scannedBytes! < statSync(path).size, 'the scan stopped at its bound');
  assert.ok(bounded.scannedRows < 20_000 && bounded.scannedRows > 0);
  assert.ok(Math.abs(bounded.rows - 20_000) / 20_000 < 0.05, `extrapolated ${bounded.rows} rows of 20,000`);
  assert.equal(bounded.unparsable.count, 0, 'the line cut by the bound is dropped, not reported');
  const whole = await inspectDataset(path, { format: 'text' });
  assert.equal(whole.estimated, false);
  assert.equal(whole.rows, 20_000);
});
