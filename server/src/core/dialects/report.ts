import type { Diagnostic } from 'vscode-languageserver-types';
import { fallbackRange, keyRange, valueRange, type ConfigDocument, type NodePath } from '../document/configDocument';
import { makeDiagnostic, type Severity } from '../document/diagnostics';
import type { QuickFix } from '../edits/configEdits';
import type { DiagnosticOrigin, DialectDiagnosticData } from './types';

/** Per-key findings past this many are dropped (a file that bad needs its first screenful); the tool's own pre-launch checks always report. */
export const MAX_KEY_DIAGNOSTICS = 200;

/** Builds one dialect's diagnostics, each carrying the same payload shape (path, origin, assumed version, fixes). */
export class DialectReport {
  readonly diagnostics: Diagnostic[] = [];

  /** `dialect`: the document's dialect id; `toolName`: the tool as people name it, for messages. */
  constructor(
    private readonly doc: ConfigDocument,
    readonly dialect: string,
    readonly assumes: string,
    readonly toolName: string,
  ) {}

  /** "Did you mean" searches left: each compares the word with every key of its place, so a hostile file gets 50. */
  private suggestionsLeft = 50;

  /** Whether a did-you-mean search may still run (and counts it). */
  takeSuggestion(): boolean {
    return this.suggestionsLeft-- > 0;
  }

  /** Whether another per-key finding may still be reported. */
  hasRoom(): boolean {
    return this.diagnostics.length < MAX_KEY_DIAGNOSTICS;
  }

  /** A finding pointed at the key of `path`. */
  atKey(
    path: NodePath,
    severity: Severity,
    code: string,
    message: string,
    extra: Partial<DialectDiagnosticData> = {},
  ): void {
    this.push(keyRange(this.doc, path), path, severity, code, message, extra);
  }

  /** A finding pointed at the value of `path` (its key for a block value). */
  atValue(
    path: NodePath,
    severity: Severity,
    code: string,
    message: string,
    extra: Partial<DialectDiagnosticData> = {},
  ): void {
    this.push(valueRange(this.doc, path), path, severity, code, message, extra);
  }

  /** A finding about the whole file (which release it is checked against), on its first line. */
  atDocument(severity: Severity, code: string, message: string): void {
    this.push(fallbackRange(this.doc), [], severity, code, message, {});
  }

  private push(
    range: Diagnostic['range'],
    path: NodePath,
    severity: Severity,
    code: string,
    message: string,
    extra: Partial<DialectDiagnosticData>,
  ): void {
    const origin: DiagnosticOrigin = extra.origin ?? this.dialect;
    const data: DialectDiagnosticData = { path, dialect: this.dialect, origin, assumes: this.assumes, ...extra };
    this.diagnostics.push(makeDiagnostic(range, severity, code, message, data));
  }

  /** Diagnostics in document order (findings are gathered rule by rule). */
  sorted(): Diagnostic[] {
    return [...this.diagnostics].sort(
      (a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character,
    );
  }
}

export function renameFix(path: NodePath, newKey: string): QuickFix {
  return { title: `Rename to \`${newKey}\``, edits: [{ kind: 'renameKey', path, newKey }], isPreferred: true };
}

export function removeFix(path: NodePath): QuickFix {
  return { title: `Remove \`${path.join('.')}\``, edits: [{ kind: 'remove', path }] };
}

export function setFix(path: NodePath, value: unknown, preferred = true): QuickFix {
  return {
    title: `Set \`${path.join('.')}: ${typeof value === 'string' ? value : JSON.stringify(value)}\``,
    edits: [{ kind: 'set', path, value }],
    isPreferred: preferred,
  };
}

/** Parse problems, with the severities our own validation gives them. */
export function parseProblemDiagnostics(doc: ConfigDocument): Diagnostic[] {
  return doc.problems.map((problem) =>
    makeDiagnostic(
      problem.range,
      problem.code === 'yaml-multi-document' ? 'warning' : 'error',
      problem.code,
      problem.message,
    ),
  );
}

export function keyName(path: NodePath): string {
  return path
    .map((segment, index) => (typeof segment === 'number' ? `[${segment}]` : index ? `.${segment}` : segment))
    .join('');
}
