/**
 * The source map is enough for the wiring: every quick-fix edit the pitfall rules propose on the corpus plans
 * addresses a plan field the map knows (so the fix is either rewritten onto the dialect's key or deliberately
 * dropped), and the rules run on every plan without throwing.
 */
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { normalizeDialect, sourceOf } from '../../server/src/core/dialects/normalize';
import { resolveModel } from '../../server/src/core/models/resolve';
import { checkRules } from '../../server/src/core/rules';
import type { QuickFix } from '../../server/src/core/edits/configEdits';
import { corpusFiles, isAxolotlTraining, llamaFactorySubKind } from './normalizeCorpus';

test('every rule fix on a corpus plan edits a plan field with a recorded dialect source', () => {
  const unmapped = new Set<string>();
  let fixes = 0;
  for (const tool of ['axolotl', 'llama-factory'] as const) {
    for (const file of corpusFiles(tool)) {
      if (tool === 'axolotl' ? !isAxolotlTraining(file) : llamaFactorySubKind(file) !== 'train') continue;
      const { plan, sources } = normalizeDialect(tool, file.doc, file.path, 'train', { fileExists: () => false });
      const model = resolveModel(plan!.model, { configDir: dirname(file.path), env: { HOME: '/nonexistent-home' } });
      const diagnostics = checkRules({
        doc: file.doc,
        plan: plan!,
        configPath: file.path,
        platform: 'linux',
        model,
        fileExists: () => false,
      });
      for (const d of diagnostics) {
        for (const fix of (d.data as { fixes?: QuickFix[] } | undefined)?.fixes ?? []) {
          for (const edit of fix.edits) {
            fixes++;
            if (!sourceOf(sources, edit.path.map(String)))
              unmapped.add(`${tool}: ${edit.path.join('.')} (${String(d.code)})`);
          }
        }
      }
    }
  }
  assert.ok(fixes > 100, `${fixes} fix edits`);
  assert.deepEqual([...unmapped], []);
});
