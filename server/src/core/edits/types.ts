import type { NodePath } from '../document/configDocument';

/** A change to a config, addressed by path, so fixes are written once and rendered against whatever text there is. */
export type ConfigEdit =
  | { kind: 'set'; path: NodePath; value: unknown }
  | { kind: 'remove'; path: NodePath }
  | { kind: 'renameKey'; path: NodePath; newKey: string };

/** A quick fix as diagnostics carry it in `diagnostic.data.fixes`; the code-action handler turns it into TextEdits. */
export interface QuickFix {
  title: string;
  edits: ConfigEdit[];
  isPreferred?: boolean;
}
