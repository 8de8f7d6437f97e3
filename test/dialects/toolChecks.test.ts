// The tools' validators that stop a run, generated from scripts/dialect-facts/*.checks (axolotl's plugin validators,
// LLaMA-Factory's `__post_init__` and parser checks). For every check: a config that meets each clause gets the error
// in the tool's own words, and the same config with any one clause undone does not; a plugin's check needs the plugin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Diagnostic } from 'vscode-languageserver-types';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { validateDialect, type DialectMatch } from '../../server/src/core/dialects';
import { AXOLOTL_SCHEMA } from '../../server/src/core/dialects/axolotl/schema';
import { LLAMA_FACTORY_SCHEMA } from '../../server/src/core/dialects/llamaFactory/schema';
import type { CheckClause, DialectSchemaRoot, ToolCheck } from '../../server/src/core/dialects/schemaTable';
import { filledIn, raisedIn } from '../../server/src/core/dialects/toolChecks';
import { compareReleases, versionParts } from '../../server/src/core/dialects/toolVersion';
import { MEGATRON_BRIDGE_KEYS, TOOL_FACTS } from '../../server/src/core/dialects/toolFacts';

type Config = Record<string, unknown>;

const TOOLS: Array<{ schema: DialectSchemaRoot; match: DialectMatch; base: Config; min: number }> = [
  {
    schema: AXOLOTL_SCHEMA,
    match: { dialect: 'axolotl', source: 'setting' },
    base: {
      base_model: 'org/model',
      datasets: [{ path: 'data.jsonl', type: 'alpaca' }],
      learning_rate: 0.0002,
      micro_batch_size: 2,
      gradient_accumulation_steps: 4,
    },
    min: 120,
  },
  {
    schema: LLAMA_FACTORY_SCHEMA,
    match: { dialect: 'llama-factory', subKind: 'train', source: 'setting' },
    base: {
      model_name_or_path: 'org/model',
      stage: 'sft',
      do_train: true,
      finetuning_type: 'lora',
      dataset: 'alpaca_en_demo',
      template: 'qwen',
      output_dir: 'out',
    },
    min: 30,
  },
];

/**
 * How to make each derived fact of toolFacts.ts read a value (its truthiness for the yes/no facts), by writing the
 * keys it is derived from: a check on `$name` is met and undone through these.
 */
const FACT_WRITERS: Record<string, (config: Config, value: unknown) => void> = {
  attn_implementation: (c, v) => setAt(c, 'attn_implementation', v ? v : undefined),
  attn_implementation_unknown: (c, v) => setAt(c, 'attn_implementation', v ? 'flash_attn2' : 'sdpa'),
  attn_short_form_canonical: (c, v) => setAt(c, 'attn_implementation', v ? 'flash' : 'sdpa'),
  attn_supports_packing: (c, v) => setAt(c, 'attn_implementation', v ? 'flash_attention_2' : 'sdpa'),
  attn_uses_flash_lib: (c, v) => setAt(c, 'attn_implementation', v ? 'flash_attention_2' : 'sdpa'),
  causal_lm_metrics_unknown: (c, v) => setAt(c, 'eval_causal_lm_metrics', v ? ['sacrebleu', 'bleu'] : ['sacrebleu']),
  fsdp: (c, v) => {
    setAt(c, 'fsdp', v ? ['full_shard'] : undefined);
    if (!v) setAt(c, 'fsdp_config', undefined);
  },
  dataset_jinja_without_template: (c, v) =>
    setAt(c, 'datasets', [{ path: 'data.jsonl', type: 'chat_template', chat_template: v ? 'jinja' : 'chatml' }]),
  dataset_message_field_conflict: (c, v) =>
    setAt(c, 'datasets', [
      {
        path: 'data.jsonl',
        type: 'chat_template',
        message_field_role: 'from',
        message_property_mappings: { role: v ? 'speaker' : 'from' },
      },
    ]),
  fsdp_version: (c, v) => setAt(c, 'fsdp_version', v),
  fsdp_auto_wrap_policy: (c, v) => setAt(c, 'fsdp_config.auto_wrap_policy', v ? v : undefined),
  fsdp_min_num_params: (c, v) => setAt(c, 'fsdp_config.min_num_params', v ?? undefined),
  fsdp_offload_params: (c, v) => setAt(c, 'fsdp_config.offload_params', v),
  grpo_generation_batch: (c, v) => setAt(c, 'trl.generation_batch_size', v),
  kt_accelerate_differs: (c, v) => {
    setAt(c, 'kt_config', { kt_share_cache_pool: true });
    setAt(c, 'accelerator_config', v ? { kt_config: { kt_share_cache_pool: false } } : undefined);
  },
  kt_config_derived_keys: (c, v) => setAt(c, 'kt_config', v ? { kt_lora_rank: 8, enabled: true } : { enabled: true }),
  megatron_bridge: (c, v) => {
    for (const key of MEGATRON_BRIDGE_KEYS) setAt(c, key, undefined);
    if (v) setAt(c, 'megatron_pretrained_checkpoint', 'checkpoints/base');
  },
  legacy_attention_flags: (c, v) => {
    for (const flag of ['flash_attention', 'sdp_attention', 'flex_attention', 'xformers_attention'])
      setAt(c, flag, undefined);
    if (v) setAt(c, 'flash_attention', true);
  },
  processor_kwargs_reserved: (c, v) => setAt(c, 'processor_kwargs', v ? { revision: 'main' } : { size: 4 }),
  torch_compile_options_disallowed: (c, v) =>
    setAt(c, 'torch_compile_options', v ? { max_autotune: true } : { shape_padding: true }),
  selective_saves_matmul: (c, v) =>
    setAt(c, 'selective_checkpointing', { save: v ? ['attention', 'mm'] : ['attention'] }),
};

/** Sets a key (dotted for nested keys) or, for `$name`, the keys its derived fact reads. */
function assign(config: Config, key: string, value: unknown): void {
  if (key.startsWith('$')) FACT_WRITERS[key.slice(1)]!(config, value);
  else setAt(config, key, value);
}

function setAt(config: Config, dotted: string, value: unknown): void {
  const path = dotted.split('.');
  let node = config;
  for (const segment of path.slice(0, -1)) {
    if (typeof node[segment] !== 'object' || node[segment] === null) node[segment] = {};
    node = node[segment] as Config;
  }
  if (value === undefined) delete node[path[path.length - 1]!];
  else node[path[path.length - 1]!] = value;
}

function other(value: unknown): unknown {
  if (typeof value === 'boolean') return !value;
  if (typeof value === 'number') return value + 1;
  return 'zz-other';
}

/** A value that meets every clause on one key (a numeric interval's middle, an empty string for "set but falsy"). */
function satisfying(clauses: CheckClause[], role: 'key' | 'other', check: ToolCheck): unknown {
  const ops = new Set(clauses.map((c) => c.op));
  if (role === 'other') {
    // The other side of a comparison, with a bound of its own (`trl.num_generations>1`), takes the bound's value.
    const own = clauses.filter((c) => c.op === 'gt' || c.op === 'lt' || c.op === 'le');
    return own.length > 0 ? satisfying(own, 'key', check) : 2;
  }
  if (ops.has('gtKey')) return 3;
  if (ops.has('notMultiple')) return 3;
  const length = clauses.find((c) => c.op === 'lengthGt');
  if (length?.op === 'lengthGt') return Array.from({ length: length.value + 1 }, (_, i) => `item-${i}`);
  const le = clauses.find((c) => c.op === 'le');
  if (le?.op === 'le') return le.value;
  const ci = clauses.find((c) => c.op === 'containsCi');
  if (ci?.op === 'containsCi') return `org/X-${ci.text.toUpperCase()}-1b`;
  const prefix = clauses.find((c) => c.op === 'startsWith');
  if (prefix?.op === 'startsWith') return `${prefix.text}adamw`;
  if (ops.has('notValidated')) return false;
  if (ops.has('countNe')) return 'a,b';
  const eq = clauses.find((c) => c.op === 'eq');
  if (eq && eq.op === 'eq') return eq.values[0];
  const ne = clauses.find((c) => c.op === 'ne');
  if (ne && ne.op === 'ne') return other(ne.values[0]);
  const gt = clauses.find((c) => c.op === 'gt');
  const lt = clauses.find((c) => c.op === 'lt');
  if (gt?.op === 'gt' && lt?.op === 'lt') return (gt.value + lt.value) / 2;
  if (gt?.op === 'gt') return gt.value + 1;
  if (lt?.op === 'lt') return lt.value - 1;
  const contains = clauses.find((c) => c.op === 'contains');
  if (contains?.op === 'contains')
    return [check.plugin?.includes(contains.text) ? check.plugin : `axolotl.integrations.x.${contains.text}`];
  if (ops.has('unset')) return undefined;
  if (ops.has('set') && ops.has('falsy')) return '';
  // A nested key read with `not parent.get(key)` under a parent that must be truthy: false, not absent.
  if (ops.has('falsy')) return clauses[0]!.key.includes('.') ? false : undefined;
  return true;
}

/** The config that meets every clause of the check (starting from a clean base), with the check's plugin listed. */
function meeting(check: ToolCheck, base: Config, undo?: CheckClause): Config {
  const config: Config = structuredClone(base);
  if (check.plugin) config.plugins = [check.plugin];
  const byKey = new Map<string, Array<{ clause: CheckClause; role: 'key' | 'other' }>>();
  for (const clause of check.when) {
    if (clause.op === 'truthyCount') continue;
    byKey.set(clause.key, [...(byKey.get(clause.key) ?? []), { clause, role: 'key' }]);
    if (clause.op === 'gtKey' || clause.op === 'countNe' || clause.op === 'notMultiple')
      byKey.set(clause.other, [...(byKey.get(clause.other) ?? []), { clause, role: 'other' }]);
  }
  for (const [key, entries] of byKey) {
    // The other side of a comparison, with at most a `set` or truthy clause or a bound of its own, takes the other
    // side's value.
    const role = entries.some((e) => e.role === 'other') ? 'other' : 'key';
    assign(
      config,
      key,
      satisfying(
        entries.filter((e) => e.role === role || role === 'other').map((e) => e.clause),
        role,
        check,
      ),
    );
  }
  for (const clause of check.when)
    if (clause.op === 'truthyCount') countTo(config, clause, clause.cmp === 'gt' ? clause.value + 1 : clause.value - 1);
  if (undo) undoClause(config, undo);
  return config;
}

/** Makes exactly `n` of the clause's keys truthy (the first ones) and the rest absent. */
function countTo(config: Config, clause: Extract<CheckClause, { op: 'truthyCount' }>, n: number): void {
  clause.keys.forEach((key, i) => assign(config, key, i < n ? 1 : undefined));
}

/** The config changed so that one clause no longer holds. */
function undoClause(config: Config, clause: CheckClause): void {
  switch (clause.op) {
    case 'truthy':
    case 'set':
      assign(config, clause.key, clause.op === 'truthy' ? false : null);
      return;
    case 'validated':
      assign(config, clause.key, false);
      return;
    case 'falsy':
    case 'unset':
    case 'notValidated':
      assign(config, clause.key, 'x');
      return;
    case 'eq':
      assign(config, clause.key, other(clause.values[0]));
      return;
    case 'ne':
      assign(config, clause.key, clause.values[0]);
      return;
    case 'gt':
    case 'lt':
      assign(config, clause.key, clause.value);
      return;
    case 'le':
      assign(config, clause.key, clause.value + 1);
      return;
    case 'lengthGt':
      assign(
        config,
        clause.key,
        Array.from({ length: clause.value }, (_, i) => `item-${i}`),
      );
      return;
    case 'gtKey':
      assign(config, clause.key, 1);
      assign(config, clause.other, 2);
      return;
    case 'notMultiple':
      assign(config, clause.key, 4);
      assign(config, clause.other, 2);
      return;
    case 'countNe':
      assign(config, clause.key, 'x');
      assign(config, clause.other, 'y');
      return;
    case 'contains':
      assign(config, clause.key, ['nothing.here']);
      return;
    case 'containsCi':
    case 'startsWith':
      assign(config, clause.key, 'org/nothing-here');
      return;
    case 'truthyCount':
      countTo(config, clause, clause.cmp === 'gt' ? clause.value : clause.value);
  }
}

/** The diagnostics of the config written as YAML, after `header` (a `# lora-lens: tool=version` line). */
function diagnoseAt(config: Config, match: DialectMatch, header = ''): Diagnostic[] {
  const text = Object.entries(config)
    .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
    .join('\n');
  return validateDialect(parseConfigDocument(`${header}${text}\n`), match, { configDir: null });
}

test(`llama-factory: the Megatron Bridge fact reads the keys only the bridge has`, () => {
  const bridgeOnly = Object.entries(LLAMA_FACTORY_SCHEMA.properties)
    .filter(([, p]) => JSON.stringify(p['x-gate']?.env) === '["USE_MEGATRON_BRIDGE"]')
    .map(([key]) => key)
    .sort();
  assert.deepEqual([...MEGATRON_BRIDGE_KEYS].sort(), bridgeOnly);
});

for (const { schema, match, base, min } of TOOLS) {
  const checks = schema['x-lora-lens'].checks ?? [];
  test(`${match.dialect}: every derived fact a check reads exists, with a way to write it here`, () => {
    const facts = checks.flatMap((c) =>
      c.when.flatMap((w) => [w.key, 'other' in w ? w.other : '', ...('keys' in w ? w.keys : [])]),
    );
    for (const fact of facts.filter((k) => k.startsWith('$'))) {
      assert.ok(TOOL_FACTS[fact.slice(1)], `${fact} in toolFacts.ts`);
      assert.ok(FACT_WRITERS[fact.slice(1)], `${fact} has a writer in this test`);
    }
  });
  test(`${match.dialect}: the generated checks are there (${checks.length})`, () => {
    assert.ok(checks.length >= min, `${checks.length} checks`);
    assert.equal(new Set(checks.map((c) => `${c.code} ${c.at} ${c.since}`)).size, checks.length, 'no check twice');
  });
  test(`${match.dialect}: every generated check code has its anchor in docs/rules.md`, () => {
    const docs = readFileSync(join(__dirname, '..', '..', 'docs', 'rules.md'), 'utf8');
    for (const check of checks) assert.match(docs, new RegExp(`<a id="${check.code}"></a>`), check.code);
  });
  test(`${match.dialect}: the clean base config meets no check`, () => {
    const codes = new Set(checks.map((c) => c.code));
    assert.deepEqual(
      diagnoseAt(base, match).filter((d) => codes.has(String(d.code))),
      [],
    );
  });
  for (const check of checks) {
    // A row another rewords (`until`) is checked at the last release kept before it.
    const releases = (schema['x-lora-lens'].releases ?? []).map((r) => r.version);
    const last = check.until && releases.filter((r) => compareReleases(r, check.until!) < 0).pop();
    const pin = last ? `# lora-lens: ${match.dialect}=${last.replace(/^v/, '')}\n` : '';
    const diagnose = (config: Config, on: DialectMatch) => diagnoseAt(config, on, pin);
    test(`${match.dialect} ${check.code}${last ? ` at ${last}` : ''}: fires when met, in the tool's words, and not with any clause undone`, () => {
      const found = diagnose(meeting(check, base), match).filter((d) => d.code === check.code);
      assert.equal(found.length, 1, `${check.code} on ${JSON.stringify(meeting(check, base))}`);
      assert.equal(found[0]!.severity, 1);
      const says = filledIn(check.says, meeting(check, base));
      assert.ok(String(found[0]!.message).includes(says), String(found[0]!.message));
      assert.ok(String(found[0]!.message).includes(check.source.split('@')[0]!));
      for (const clause of check.when) {
        const undone = diagnose(meeting(check, base, clause), match).filter((d) => d.code === check.code);
        assert.deepEqual(undone, [], `${check.code} with ${JSON.stringify(clause)} undone`);
      }
      if (check.plugin) {
        const config = meeting(check, base);
        delete config.plugins;
        assert.deepEqual(
          diagnose(config, match).filter((d) => d.code === check.code),
          [],
          'without its plugin listed',
        );
      }
    });
  }
}

// Issue 19: a check is tied to the first release whose source raises it (`since`, from
// scripts/dialect-facts/extract_check_since.py). A file pinned to an older release does not get it; at that release
// and after, it does. `since: null` (no release established) is checked for every release.
test('raisedIn: a check fires from its release on, and always without one', () => {
  const check = (since: string | null) => ({ ...AXOLOTL_SCHEMA['x-lora-lens'].checks![0]!, since });
  assert.equal(raisedIn(check('0.17.0'), 'v0.16.0'), false);
  assert.equal(raisedIn(check('0.17.0'), 'v0.17.0'), true);
  assert.equal(raisedIn(check('0.17.0'), 'v0.18.0'), true);
  assert.equal(raisedIn(check('0.9.6.dev0'), 'v0.9.5'), false);
  assert.equal(raisedIn(check('0.9.6.dev0'), 'v0.9.6.dev0'), true);
  assert.equal(raisedIn(check(null), 'v0.15.0'), true);
  assert.equal(raisedIn(check('0.18.0'), undefined), true);
  const reworded = { ...check('0.5.0'), until: '0.18.0' };
  assert.equal(raisedIn(reworded, 'v0.17.0'), true);
  assert.equal(raisedIn(reworded, 'v0.18.0'), false);
  assert.equal(raisedIn(reworded, undefined), false, 'the newest release says it in its new words');
});

for (const { schema, match, base } of TOOLS) {
  const checks = schema['x-lora-lens'].checks ?? [];
  const releases = (schema['x-lora-lens'].releases ?? []).map((r) => r.version);
  const newest = releases[releases.length - 1]!;
  const name = match.dialect;
  test(`${name}: every check's since is a release no newer than the newest kept (${newest})`, () => {
    const unknown = checks.filter((c) => c.since === null).map((c) => c.code);
    assert.deepEqual(unknown, [], 'no check without a release (the extractor established them all)');
    for (const check of checks) {
      assert.ok(versionParts(check.since!), `${check.code}: ${check.since}`);
      assert.ok(compareReleases(check.since!, newest) <= 0, `${check.code}: ${check.since} after ${newest}`);
      if (check.until) assert.ok(releases.includes(`v${check.until}`), `${check.code}: until ${check.until} is kept`);
      // A release newer than the oldest kept is one of the kept ones, so a pin can name the one before it.
      if (compareReleases(check.since!, releases[0]!) > 0)
        assert.ok(
          releases.some((r) => compareReleases(r, check.since!) === 0),
          `${check.code}: ${check.since}`,
        );
    }
  });
  for (const check of checks.filter((c) => c.since && compareReleases(c.since, releases[0]!) > 0)) {
    test(`${name} ${check.code}: not raised by a file pinned before ${check.since}, raised from it on`, () => {
      const at = releases.findIndex((r) => compareReleases(r, check.since!) === 0);
      // In its own words: a row reworded before or after it (same code) says something else.
      const says = filledIn(check.says, meeting(check, base));
      const pinned = (version: string) =>
        diagnoseAt(meeting(check, base), match, `# lora-lens: ${name}=${version.replace(/^v/, '')}\n`).filter(
          (d) => d.code === check.code && String(d.message).includes(says),
        ).length;
      assert.equal(pinned(releases[at - 1]!), 0, `pinned to ${releases[at - 1]}`);
      for (const version of releases.slice(at))
        assert.equal(pinned(version), raisedIn(check, version) ? 1 : 0, `pinned to ${version}`);
    });
  }
  test(`${name}: a check older than the oldest release kept fires for every release`, () => {
    const old = checks.find((c) => c.since && compareReleases(c.since, releases[0]!) < 0 && !c.plugin && !c.until)!;
    assert.ok(old, 'one such check');
    for (const version of releases) {
      const found = diagnoseAt(meeting(old, base), match, `# lora-lens: ${name}=${version.replace(/^v/, '')}\n`);
      assert.equal(found.filter((d) => d.code === old.code).length, 1, `${old.code} pinned to ${version}`);
    }
  });
}
