// docs/config.md's reference config: a valid config whose plan keeps the plan contract, and it shows every key of the
// config schema (a key added to scripts/gen-schema.py without a line in the docs fails here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { planErrors } from '../../server/src/core/plan/contract';
import { buildPlan } from '../../server/src/core/analysis/buildPlan';
import { REPO } from './contractHelpers';

type Schema = { properties?: Record<string, Schema>; anyOf?: Schema[] };

const docs = readFileSync(join(REPO, 'docs', 'config.md'), 'utf8');
const block = /```yaml\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';

function schemaKeys(schema: Schema, prefix: string[] = []): string[] {
  return Object.entries(schema.properties ?? {}).flatMap(([key, sub]) => {
    const object = sub.properties ? sub : sub.anyOf?.find((b) => b.properties);
    const path = [...prefix, key];
    return object ? [path.join('.'), ...schemaKeys(object, path)] : [path.join('.')];
  });
}

test('the reference config in docs/config.md is valid and its plan keeps the plan contract', () => {
  assert.ok(block.length > 0, 'docs/config.md has no ```yaml block');
  const { plan, diagnostics } = buildPlan(block, '/work/project/config.finetune.yaml');
  assert.deepEqual(
    diagnostics.map((d) => d.message),
    [],
  );
  assert.ok(plan);
  assert.deepEqual(planErrors(plan), []);
});

test('docs/config.md shows every key of the config schema', () => {
  const shown = parse(block) as Record<string, unknown>;
  const has = (path: string) => {
    const parts = path.split('.');
    let node: unknown = shown;
    for (const part of parts) {
      // The model's object form is named in a comment beside the string form the block uses.
      if (node === null || typeof node !== 'object' || !(part in node))
        return parts[0] === 'model' && docs.includes(parts.at(-1)!);
      node = (node as Record<string, unknown>)[part];
    }
    return true;
  };
  const configSchema = JSON.parse(readFileSync(join(REPO, 'schemas', 'finetune.schema.json'), 'utf8')) as Schema;
  assert.deepEqual(
    schemaKeys(configSchema).filter((key) => !has(key)),
    [],
  );
});
