import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

/** The validators' sources (the normalisers under normalize/ document their own codes). */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'normalize' ? [] : sources(path);
    return name.endsWith('.ts') ? [readFileSync(path, 'utf8')] : [];
  });
}

test('every dialect diagnostic code has its anchor in docs/rules.md (the link each diagnostic carries)', () => {
  const codes = new Set<string>();
  for (const text of sources(join(ROOT, 'server', 'src', 'core', 'dialects'))) {
    for (const match of text.matchAll(/'((?:axolotl|lf|trl|dialect)-[a-z0-9-]+)'/g)) codes.add(match[1]!);
  }
  assert.ok(codes.size >= 25, `${codes.size} codes found`);
  const docs = readFileSync(join(ROOT, 'docs', 'rules.md'), 'utf8');
  for (const code of codes) assert.match(docs, new RegExp(`<a id="${code}"></a>`), code);
});
