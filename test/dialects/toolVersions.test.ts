import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Diagnostic } from 'vscode-languageserver-types';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { detectDialect, validateDialect, type DialectDiagnosticData } from '../../server/src/core/dialects';
import { AXOLOTL_SCHEMA } from '../../server/src/core/dialects/axolotl/schema';
import { LLAMA_FACTORY_SCHEMA } from '../../server/src/core/dialects/llamaFactory/schema';
import type { DialectProperty, DialectSchemaRoot } from '../../server/src/core/dialects/schemaTable';
import {
  compareReleases,
  selectRelease,
  versionModeline,
  versionParts,
} from '../../server/src/core/dialects/toolVersion';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { doComplete } from '../../server/src/core/analysis/completion';
import { runCommand as runCheck } from '../../server/src/cli/check';
import { runCommandIn } from '../helpers/cli';
import { CORPUS_DIR } from './corpusFiles';

const AXOLOTL = readFileSync(join(CORPUS_DIR, 'axolotl', 'examples__llama-2__qlora.yml'), 'utf8');
const LF_TRAIN = readFileSync(join(CORPUS_DIR, 'llama-factory', 'examples__train_lora__qwen3_lora_sft.yaml'), 'utf8');

function check(text: string, options: { installedVersion?: string; versionSetting?: string } = {}): Diagnostic[] {
  const doc = parseConfigDocument(text);
  return validateDialect(doc, detectDialect(doc, 'config.yaml'), { configDir: null, ...options });
}

function codesAt(diagnostics: Diagnostic[], key: string): string[] {
  return diagnostics
    .filter((d) => (d.data as DialectDiagnosticData | undefined)?.path?.[0] === key)
    .map((d) => String(d.code));
}

/** A value of the property's own type (so that the key is "known", not a type error). */
function valueOf(property: DialectProperty): string {
  const branch = property.anyOf?.[0] ?? property;
  if (branch.enum) return JSON.stringify(branch.enum[0]);
  switch (branch.type) {
    case 'boolean':
      return 'true';
    case 'integer':
    case 'number':
      return '2';
    case 'string':
      return 'x';
    case 'array':
      return '[]';
    case 'object':
      return '{}';
    default:
      return 'x';
  }
}

function releasesOf(schema: DialectSchemaRoot): string[] {
  return (schema['x-lora-lens'].releases ?? []).map((r) => r.version);
}

/** The release kept just before `release` (undefined for the oldest). */
function before(schema: DialectSchemaRoot, release: string): string | undefined {
  const all = releasesOf(schema);
  return all[all.indexOf(release) - 1];
}

test('the modeline: a `# lora-lens: TOOL=VERSION` line among the leading comments, not after the first key', () => {
  assert.equal(versionModeline('# lora-lens: axolotl=0.16\nbase_model: x\n', 'axolotl'), '0.16');
  assert.equal(versionModeline('# my run\n\n#lora-lens:   axolotl=v0.17.0\nbase_model: x\n', 'axolotl'), 'v0.17.0');
  assert.equal(versionModeline('# lora-lens: llamafactory=0.9.4\n', 'llama-factory'), '0.9.4');
  assert.equal(versionModeline('# lora-lens: llama-factory=0.9.3, axolotl=0.15\n', 'axolotl'), '0.15');
  assert.equal(versionModeline('# lora-lens: axolotl=0.16\n', 'llama-factory'), undefined);
  assert.equal(versionModeline('base_model: x\n# lora-lens: axolotl=0.16\n', 'axolotl'), undefined);
  assert.equal(versionModeline('# lora-lens: dialect=axolotl\n', 'axolotl'), undefined);
});

test('versions compare part by part; a pre-release sorts before its release', () => {
  assert.deepEqual(versionParts('v0.16.1'), [0, 16, 1]);
  assert.deepEqual(versionParts('0.9.6.dev0'), [0, 9, 6, -1]);
  assert.deepEqual(versionParts('0.18.0rc1'), [0, 18, 0, -1]);
  assert.equal(versionParts('latest'), undefined);
  assert.ok(compareReleases('v0.9.6.dev0', 'v0.9.5') > 0);
  assert.ok(compareReleases('v0.9.6.dev0', 'v0.9.6') < 0);
  assert.equal(compareReleases('v0.16.0', '0.16'), 0);
});

test('each source of the version: modeline, then setting, then installed, then the newest', () => {
  const all = { modeline: '0.15', setting: '0.16', installed: '0.17.2' };
  assert.deepEqual(
    [
      selectRelease(AXOLOTL_SCHEMA, all),
      selectRelease(AXOLOTL_SCHEMA, { setting: '0.16', installed: '0.17.2' }),
      selectRelease(AXOLOTL_SCHEMA, { installed: '0.17.2' }),
      selectRelease(AXOLOTL_SCHEMA, {}),
    ].map((s) => [s?.source, s?.release.version, s?.newest]),
    [
      ['modeline', 'v0.15.0', false],
      ['setting', 'v0.16.0', false],
      ['installed', 'v0.17.0', false],
      ['newest', 'v0.18.0', true],
    ],
  );
  assert.equal(selectRelease(LLAMA_FACTORY_SCHEMA, { installed: '0.9.6.dev0' })?.release.version, 'v0.9.6.dev0');
  assert.equal(selectRelease(LLAMA_FACTORY_SCHEMA, { setting: '0.9.4' })?.release.version, 'v0.9.4');
});

test('a version outside the releases kept, or not a version, is checked as the nearest release and says so', () => {
  const old = selectRelease(AXOLOTL_SCHEMA, { setting: '0.12.2' })!;
  assert.equal(old.release.version, 'v0.15.0');
  assert.match(old.note!, /0\.12\.2 is older than the oldest release LoRA Lens keeps keys for: checked as v0\.15\.0/);
  const newer = selectRelease(AXOLOTL_SCHEMA, { setting: '0.21' })!;
  assert.equal(newer.release.version, 'v0.18.0');
  assert.match(newer.note!, /newer than the newest release LoRA Lens knows/);
  const bad = selectRelease(AXOLOTL_SCHEMA, { setting: 'main' })!;
  assert.match(bad.note!, /`main` is not a version number/);
  const info = check(`# lora-lens: axolotl=0.12\n${AXOLOTL}`).filter((d) => d.code === 'axolotl-version');
  assert.equal(info.length, 1);
  assert.match(String(info[0]!.message), /checks this file against axolotl v0\.15\.0 .*0\.12 is older/);
});

test('axolotl: every key a kept release added is lost in the release before it, and known from it on', () => {
  let checked = 0;
  for (const [key, property] of Object.entries(AXOLOTL_SCHEMA.properties)) {
    const since = property['x-since'];
    const earlier = since ? before(AXOLOTL_SCHEMA, since) : undefined;
    if (!since || !earlier) continue;
    const text = `${AXOLOTL}\n${key}: ${valueOf(property)}\n`;
    const old = check(text, { versionSetting: earlier });
    assert.ok(codesAt(old, key).includes('axolotl-key-not-in-release'), `${key} at ${earlier}`);
    const message = old.find((d) => d.code === 'axolotl-key-not-in-release' && codesAt([d], key).length)!.message;
    assert.match(String(message), new RegExp(`came with axolotl ${since.replace(/\./g, '\\.')}; .* ${earlier}`));
    assert.ok(!codesAt(check(text, { versionSetting: since }), key).includes('axolotl-key-not-in-release'), key);
    checked++;
  }
  assert.ok(checked >= 50, `${checked} axolotl keys added in v0.16-v0.18`);
});

test('LLaMA-Factory: every key a kept release added stops the parser of the release before it', () => {
  let checked = 0;
  for (const [key, property] of Object.entries(LLAMA_FACTORY_SCHEMA.properties)) {
    const since = property['x-since'];
    const earlier = since ? before(LLAMA_FACTORY_SCHEMA, since) : undefined;
    if (!since || !earlier) continue;
    const text = `${LF_TRAIN}\n${key}: ${valueOf(property)}\n`;
    const old = check(text, { versionSetting: earlier });
    const found = old.filter((d) => d.code === 'lf-key-not-in-release' && codesAt([d], key).length);
    assert.equal(found.length, 1, `${key} at ${earlier}`);
    assert.equal(found[0]!.severity, 1);
    assert.ok(!codesAt(check(text, { versionSetting: since }), key).includes('lf-key-not-in-release'), key);
    checked++;
  }
  assert.ok(checked >= 60, `${checked} LLaMA-Factory keys added in v0.9.3-0.9.6.dev0`);
});

test('every removed or renamed key: reported with its release and replacement from then on, accepted before', () => {
  const cases: Array<[DialectSchemaRoot, string, string]> = [
    [AXOLOTL_SCHEMA, AXOLOTL, 'axolotl-removed-key'],
    [LLAMA_FACTORY_SCHEMA, LF_TRAIN, 'lf-removed-key'],
  ];
  let checked = 0;
  for (const [schema, base, code] of cases) {
    for (const [key, removed] of Object.entries(schema['x-lora-lens'].removed ?? {})) {
      const text = `${base}\n${key}: 1\n`;
      const at = check(text, {
        versionSetting: releasesOf(schema).find((r) => compareReleases(r, removed.since) >= 0),
      });
      const found = at.filter((d) => d.code === code && codesAt([d], key).length);
      assert.equal(found.length, 1, `${key}: ${JSON.stringify(at.map((d) => d.code))}`);
      assert.ok(
        String(found[0]!.message).includes(removed.since) && String(found[0]!.message).includes(removed.instead),
      );
      const fix = (found[0]!.data as DialectDiagnosticData).fixes?.[0]?.edits[0];
      assert.equal(fix?.kind, removed.renameTo ? 'renameKey' : 'remove', key);
      const earlier = before(schema, removed.since);
      if (earlier && (!removed.added || compareReleases(removed.added, earlier) <= 0)) {
        assert.deepEqual(codesAt(check(text, { versionSetting: earlier }), key), [], `${key} at ${earlier}`);
      }
      checked++;
    }
  }
  assert.ok(checked >= 15, `${checked} removed keys`);
});

test('a removed key that lived for a few releases: unknown before it came, accepted while it lived', () => {
  const text = `${LF_TRAIN}\nkt_maxlen: 4096\n`;
  assert.deepEqual(codesAt(check(text, { versionSetting: '0.9.4' }), 'kt_maxlen'), []);
  assert.deepEqual(codesAt(check(text, { versionSetting: '0.9.3' }), 'kt_maxlen'), ['lf-unknown-key']);
  assert.deepEqual(codesAt(check(text, { versionSetting: '0.9.5' }), 'kt_maxlen'), ['lf-removed-key']);
});

test("axolotl's stops apply from their release on: unsloth_* stops in v0.17.0, rpo_alpha in v0.16.0", () => {
  const text = `${AXOLOTL}\nunsloth_lora_mlp: true\nrpo_alpha: 0.5\n`;
  const at16 = check(text, { versionSetting: '0.16' });
  assert.deepEqual(codesAt(at16, 'unsloth_lora_mlp'), []);
  assert.deepEqual(codesAt(at16, 'rpo_alpha'), ['axolotl-removed-key']);
  assert.deepEqual(codesAt(check(text, { versionSetting: '0.15' }), 'rpo_alpha'), []);
  assert.deepEqual(codesAt(check(text), 'unsloth_lora_mlp'), ['axolotl-removed-key']);
});

test('the modeline wins over the setting and the installed version, through the analysis', () => {
  const text = `${AXOLOTL}\nselective_checkpointing: true\n`;
  const analyse = (body: string, environment: Record<string, unknown>) =>
    analyzeConfig({
      doc: parseConfigDocument(body),
      configPath: null,
      environment: { platform: 'linux', env: {}, fallbackGpu: null, ...environment },
    }).diagnostics.filter((d) => d.code === 'axolotl-key-not-in-release');
  assert.equal(analyse(text, {}).length, 0);
  assert.equal(analyse(text, { toolVersions: { axolotl: '0.17' } }).length, 1);
  assert.equal(analyse(text, { installedToolVersions: { axolotl: '0.17.1' } }).length, 1);
  assert.match(
    String(analyse(text, { installedToolVersions: { axolotl: '0.17.1' } })[0]!.message),
    /installed axolotl is 0\.17\.1/,
  );
  assert.equal(analyse(`# lora-lens: axolotl=0.18\n${text}`, { toolVersions: { axolotl: '0.17' } }).length, 0);
  assert.equal(analyse(text, { toolVersions: { 'llama-factory': '0.9.3' } }).length, 0);
});

test('check --tool-version checks against that release; a malformed value is a usage error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lora-lens-tool-version-'));
  try {
    const path = join(dir, 'train.yml');
    writeFileSync(path, `${AXOLOTL}\nselective_checkpointing: true\n`);
    const newest = await runCommandIn(runCheck, ['--offline', path], dir);
    assert.doesNotMatch(newest.stdout, /axolotl-key-not-in-release/);
    const old = await runCommandIn(runCheck, ['--offline', '--tool-version', 'axolotl=0.17', path], dir);
    assert.match(
      old.stdout,
      /warning axolotl-key-not-in-release `selective_checkpointing` came with axolotl v0\.18\.0/,
    );
    const bad = await runCommandIn(runCheck, ['--tool-version', 'pip=1', path], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--tool-version pip=1: expected TOOL=VERSION/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('completion leaves out the keys newer than the release the modeline names', () => {
  const labels = (text: string) => {
    const doc = parseConfigDocument(text);
    const line = text.split('\n').length - 1;
    return doComplete(doc, { line, character: 3 }, { dialect: 'axolotl' }).map((item) => item.label);
  };
  const body = 'base_model: x\ndatasets:\n  - path: a\n    type: alpaca\nsel';
  assert.ok(labels(body).includes('selective_checkpointing'));
  assert.ok(!labels(`# lora-lens: axolotl=0.17\n${body}`).includes('selective_checkpointing'));
  assert.ok(labels(`# lora-lens: axolotl=0.17\n${body}`).includes('sample_packing'));
});
