// The trainer event types are generated from schemas/events.schema.json (scripts/gen-event-types.ts): the committed
// file is what the generator writes, and the generator follows the schema (a key added there appears in the type).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENTS_SCHEMA_FILE, EVENT_TYPES_FILE, eventTypesSource } from '../../scripts/gen-event-types';
import type { EvalEvent } from '../../server/src/protocol/trainerEvents';
import { REPO } from '../plan/contractHelpers';

const schema = () =>
  JSON.parse(readFileSync(EVENTS_SCHEMA_FILE, 'utf8')) as {
    allOf: Array<{
      if: { properties: { event: { const: string } } };
      then: { properties: Record<string, object>; required?: string[] };
    }>;
  };

test('server/src/protocol/trainerEvents.ts is what `gen-event-types.ts --check` expects', () => {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(REPO, 'scripts', 'gen-event-types.ts'), '--check'],
    { cwd: REPO, encoding: 'utf8' },
  );
  assert.equal(result.status, 0, result.stderr);
  assert.equal(readFileSync(EVENT_TYPES_FILE, 'utf8'), eventTypesSource(schema()));
});

test('the generated types follow the schema: a new key, its optionality and an enum reach the interface', () => {
  const changed = schema();
  const step = changed.allOf.find((b) => b.if.properties.event.const === 'step')!;
  step.then.properties.power_watts = { type: ['number', 'null'], description: 'GPU power draw' };
  step.then.required = [...(step.then.required ?? []), 'power_watts'];
  const source = eventTypesSource(changed);
  assert.match(source, /\/\*\* GPU power draw \*\/\n {2}power_watts: number \| null;/);
  assert.notEqual(source, eventTypesSource(schema()));
  assert.throws(
    () =>
      eventTypesSource({
        ...changed,
        allOf: [{ if: { properties: { event: { const: 'step' } } }, then: { properties: { x: { oneOf: [] } } } }],
      } as never),
    /does not translate oneOf/,
  );
});

test('EvalEvent carries the token-averaged loss fields the trainer writes', () => {
  const event: EvalEvent = {
    event: 'eval',
    time: 1,
    step: 10,
    eval_loss: 1.5,
    eval_loss_reduction: 'token',
    eval_tokens: 4096,
  };
  assert.equal(event.eval_tokens, 4096);
});
