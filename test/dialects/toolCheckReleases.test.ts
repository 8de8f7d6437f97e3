// Issue 19: each axolotl check is tied to the release from which its condition, as the checks file writes it, raises,
// read from axolotl's tags (git history of axolotl-ai-cloud/axolotl), not only to the release of its message's words.
// A raise reworded in a release keeps its older words, for the releases before, as a row of its own (`R..U`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { validateDialect } from '../../server/src/core/dialects';
import { AXOLOTL_SCHEMA } from '../../server/src/core/dialects/axolotl/schema';

const BASE = 'base_model: org/model\ndatasets:\n  - path: data.jsonl\n    type: alpaca\nlearning_rate: 0.0002\n';

/** The messages of one code for the file pinned to an axolotl release. */
function messages(code: string, release: string, body: string): string[] {
  const text = `# lora-lens: axolotl=${release}\n${BASE}${body}`;
  return validateDialect(parseConfigDocument(text), { dialect: 'axolotl', source: 'setting' }, { configDir: null })
    .filter((d) => d.code === code)
    .map((d) => String(d.message));
}

function rows(code: string) {
  return (AXOLOTL_SCHEMA['x-lora-lens'].checks ?? []).filter((c) => c.code === code);
}

// 5e920c741 (#3802, first in v0.18.0) reworded check_chat_template_config's raise; its condition is v0.5.0's
// (v0_4_1/__init__.py at v0.5.0: chat_template == jinja and not chat_template_jinja).
test('axolotl-jinja-template: the older words up to 0.17, the new ones from 0.18, raised since 0.5.0 in both', () => {
  const body = 'chat_template: jinja\n';
  const [old] = messages('axolotl-jinja-template', '0.17', body);
  assert.match(
    old!,
    /"chat_template_jinja is required when chat_template is set to jinja" \(validation\.py:1292 at v0\.17\.0, raised since axolotl 0\.5\.0\)/,
  );
  const [now] = messages('axolotl-jinja-template', '0.18', body);
  assert.match(
    now!,
    /set to 'jinja'\. Please provide .* \(validation\.py:1297 at 067b021, raised since axolotl 0\.5\.0\)/,
  );
  assert.equal(messages('axolotl-jinja-template', '0.15', body).length, 1, 'v0.15.0 raises it too');
});

// v0.16.0's check_ebft_activation_offloading read the legacy `flex_attention` flag (validation.py:1576-1582 at
// 573726c83); e4032fc90 (#3602, first in v0.17.0) made it read attn_implementation.
test('axolotl-ebft-offloading-flex: raised from 0.16 on the legacy flag, from 0.17 on attn_implementation', () => {
  const ebft = 'rl: ebft\nebft:\n  mode: strided\nactivation_offloading: true\n';
  assert.deepEqual(messages('axolotl-ebft-offloading-flex', '0.15', `${ebft}flex_attention: true\n`), []);
  const [legacy] = messages('axolotl-ebft-offloading-flex', '0.16', `${ebft}flex_attention: true\n`);
  assert.match(
    legacy!,
    /with `flex_attention: true`\." \(validation\.py:1582 at v0\.16\.0, raised since axolotl 0\.16\.0\)/,
  );
  const [now] = messages('axolotl-ebft-offloading-flex', '0.17', `${ebft}attn_implementation: flex_attention\n`);
  assert.match(
    now!,
    /with `attn_implementation: flex_attention`\." \(validation\.py:1855 at 067b021, raised since axolotl 0\.17\.0\)/,
  );
});

// Conditions that changed while the message stayed, each at the first tag whose validator raises on the condition
// the checks file writes (the message's own release in brackets).
const CONDITION_RELEASES: Array<[code: string, since: string, why: string]> = [
  // 0.5.0-0.10.0: `elif noisy and not neftune` after `if noisy and not neftune` never raised; 9d5bfc127 (#2718).
  ['axolotl-neftune-both', '0.10.1', 'message 0.4.0'],
  // `relora_steps` became `relora` in 7b68dfafd (#1680): the key the condition reads arrived in v0.12.0.
  ['axolotl-relora-fsdp', '0.12.0', 'message 0.3.0'],
  ['axolotl-relora-deepspeed', '0.12.0', 'message 0.3.0'],
  ['axolotl-relora-one-cycle', '0.12.0', 'message 0.3.0'],
  ['axolotl-relora-fused-mlp', '0.12.0', 'message 0.4.0'],
  // `sequence_parallel_degree` became `context_parallel_size` in 294c7fe7a (#2977, v0.12.0).
  ['axolotl-grpo-sp-liger', '0.12.0', 'message 0.9.2'],
  ['axolotl-context-parallel-packing', '0.12.0', 'message 0.9.0'],
  // Until d6e4a611e / af92151a7 (#2760, #2910, v0.12.0) the FSDP optimizer checks also needed `fsdp:` and read
  // fsdp_config.fsdp_version and fsdp_offload_params.
  ['axolotl-fsdp1-offload-8bit', '0.12.0', 'message 0.5.0'],
  ['axolotl-fsdp2-bnb-8bit', '0.12.0', 'message 0.8.1'],
  // Narrowed, not widened, later: every config meeting today's condition was raised from the message's release.
  ['axolotl-fused-mlp-lora', '0.5.0', 'flash_attn_fuse_qkv dropped from the condition in v0.12.0'],
  ['axolotl-muon-deepspeed', '0.8.0', 'FSDP moved to its own check in v0.13.1'],
];

for (const [code, since, why] of CONDITION_RELEASES) {
  test(`${code}: raised on its condition since ${since} (${why})`, () => {
    const current = rows(code).filter((r) => !r.until);
    assert.ok(current.length > 0, code);
    for (const row of current) assert.equal(row.conditionSince ?? row.since, since, code);
  });
}
