// The TypeScript side of the trainer's other channels: exit codes (schemas/exit-codes.json), the run folder's file
// names (schemas/run-folder.json) and the merge report the editor reads (schemas/merge-report.schema.json). The
// trainer's side: trainer/tests/test_contract_files.py.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { TRAINER_EXIT } from '../../server/src/runs/exitCodes';
import { EVENTS_FILE, LOG_FILE, PLAN_FILE, TRAINER_LOG_FILE } from '../../server/src/runs/lifecycle';
import { PID_FILE } from '../../server/src/runs/pidFile';
import { REPO } from '../plan/contractHelpers';

const json = (name: string) => JSON.parse(readFileSync(join(REPO, 'schemas', name), 'utf8')) as Record<string, any>;

test('each listing matches its schema', () => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  for (const [data, schema] of [
    ['exit-codes.json', 'exit-codes.schema.json'],
    ['run-folder.json', 'run-folder.schema.json'],
  ]) {
    const validate = ajv.compile(json(schema!));
    assert.ok(validate(json(data!)), `${data}: ${JSON.stringify(validate.errors)}`);
  }
});

test('the exit codes the wrappers read are the listed ones', () => {
  const listed = Object.fromEntries(
    (json('exit-codes.json').codes as Array<{ name: string; code: number }>).map((c) => [c.name, c.code]),
  );
  assert.deepEqual(TRAINER_EXIT, listed);
});

test('the run-folder files the wrappers name are listed, with the writer that writes them', () => {
  const entries = json('run-folder.json').entries as Array<{ path: string; writer: string }>;
  const writer = (path: string) => entries.find((e) => e.path === path)?.writer;
  assert.equal(writer(PLAN_FILE), 'lora-lens');
  assert.equal(writer(PID_FILE), 'lora-lens');
  assert.equal(writer(LOG_FILE), 'lora-lens');
  assert.equal(writer(EVENTS_FILE), 'trainer');
  assert.equal(writer(TRAINER_LOG_FILE), 'trainer');
});

test('the keys the editor reads from the merge report are keys of the report', () => {
  const properties = Object.keys(json('merge-report.schema.json').properties as object);
  const source = readFileSync(join(REPO, 'extension', 'src', 'runs', 'commands.ts'), 'utf8');
  const read = [...source.matchAll(/summary\.(\w+)/g)].map((m) => m[1]!);
  assert.ok(read.length > 0, 'the merge command reads the report (summary.<key>)');
  for (const key of read)
    assert.ok(
      properties.includes(key),
      `extension/src/runs/commands.ts reads summary.${key}, which the merge report does not have`,
    );
});
