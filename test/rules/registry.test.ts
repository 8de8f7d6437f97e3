import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { RULES, parseRuleSettings } from '../../server/src/core/rules';
import { set } from '../../server/src/core/rules/util';
import { BASE, ofRule, run, variant } from './helpers';

/** BASE with two findings: lr-range on learning_rate, grad-clip on max_grad_norm. */
const TWO = variant([set(['training', 'learning_rate'], 1e-5), set(['training', 'max_grad_norm'], 0)]);

test("severity overrides change a rule's severity; off removes it", () => {
  assert.equal(ofRule(run(TWO), 'lr-range')[0]!.severity, 2);
  const overridden = run(TWO, { severityOverrides: { 'lr-range': 'error', 'grad-clip': 'off' } });
  assert.equal(ofRule(overridden, 'lr-range')[0]!.severity, 1);
  assert.deepEqual(ofRule(overridden, 'grad-clip'), []);
});

test('# lora-lens-disable-next-line suppresses the named rules, or all, on the next line only', () => {
  const named = TWO.replace(
    '  learning_rate:',
    '  # lora-lens-disable-next-line lr-range, warmup -- tuned by hand\n  learning_rate:',
  );
  assert.deepEqual(
    run(named).map((d) => d.code),
    ['grad-clip'],
  );
  const other = TWO.replace('  learning_rate:', '  # lora-lens-disable-next-line grad-clip\n  learning_rate:');
  assert.deepEqual(
    run(other).map((d) => d.code),
    ['lr-range', 'grad-clip'],
  );
  const bare = TWO.replace('  max_grad_norm:', '  # lora-lens-disable-next-line\n  max_grad_norm:');
  assert.deepEqual(
    run(bare).map((d) => d.code),
    ['lr-range'],
  );
  const crlf = named.replace(/\n/g, '\r\n');
  assert.deepEqual(
    run(crlf).map((d) => d.code),
    ['grad-clip'],
  );
});

test('every diagnostic carries the rule id, a docs link and data.fixes', () => {
  for (const d of run(TWO)) {
    assert.equal(d.source, 'lora-lens');
    assert.match(d.codeDescription!.href, new RegExp(`docs/rules\\.md#${String(d.code)}$`));
    const data = d.data as { rule: string; fixes: unknown[] };
    assert.equal(data.rule, d.code);
    assert.ok(Array.isArray(data.fixes) && data.fixes.length > 0);
  }
});

test('the loraLens.rules setting: rule-like ids and known severities only', () => {
  assert.deepEqual(
    parseRuleSettings({
      'lr-range': 'off',
      scheduler: 'error',
      'memory-no-fit': 'info',
      'Not An Id': 'off',
      warmup: 'loud',
    }),
    { 'lr-range': 'off', scheduler: 'error', 'memory-no-fit': 'info' },
  );
  assert.deepEqual(parseRuleSettings(null), {});
  assert.deepEqual(parseRuleSettings(['lr-range']), {});
});

test('rule ids are unique, and docs/rules.md and the setting document each one', () => {
  const ids = RULES.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length);
  const docs = readFileSync(resolve(__dirname, '../../docs/rules.md'), 'utf8');
  const manifest = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8'));
  const setting = manifest.contributes.configuration.properties['loraLens.rules'];
  for (const rule of RULES) {
    assert.match(docs, new RegExp(`^## \`${rule.id}\`$`, 'm'), `a section for ${rule.id}`);
    assert.match(docs, new RegExp(`<a id="${rule.id}"></a>`), `an anchor for ${rule.id}`);
    assert.ok(setting.properties[rule.id], `loraLens.rules.${rule.id} in package.json`);
  }
});

test('a rule that throws does not take the others with it', () => {
  const broken = {
    ...RULES[0]!,
    check: () => {
      throw new Error('bug');
    },
  };
  const rules = RULES as unknown as (typeof RULES)[number][];
  const original = rules[0]!;
  rules[0] = broken;
  try {
    assert.deepEqual(
      run(TWO).map((d) => d.code),
      ['grad-clip'],
    );
  } finally {
    rules[0] = original;
  }
  assert.deepEqual(run(BASE), []);
});
