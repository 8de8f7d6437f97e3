/**
 * A matcher whose time is linear in the input for every pattern: the pattern becomes a Thompson NFA and every
 * state is advanced at once (no backtracking). User patterns come from workspace settings (`loraLens.files`,
 * `loraLens.dialects` globs) and from configs (`target_modules` regular expressions); JavaScript's backtracking
 * RegExp froze the server for minutes on `**` chains and `(.*.*)*X`. It lives in document/ (the bottom of the core's
 * folder graph) so that the file matcher and the models can both use it.
 */

/** A pattern this matcher refuses, with a sentence saying why and what to write instead. */
export class PatternError extends Error {}

/** The syntax tree both front ends (globs, regular expressions) produce. */
export type PatternNode =
  | { kind: 'char'; test: (code: number) => boolean }
  | { kind: 'seq'; items: PatternNode[] }
  | { kind: 'alt'; options: PatternNode[] }
  | { kind: 'repeat'; item: PatternNode; min: number; max: number }
  | { kind: 'start' | 'end' };

/** Past this many NFA states a pattern is refused (a `{1000}` repetition of a group would multiply it). */
export const MAX_STATES = 20_000;

interface Nfa {
  /** Character edges: from state i on a code unit that passes `test` to `to`. */
  edges: Array<Array<{ test: (code: number) => boolean; to: number }>>;
  /** Epsilon edges, plain or taken only at the start / the end of the input. */
  eps: Array<Array<{ to: number; when?: 'start' | 'end' }>>;
  start: number;
  accept: number;
}

class Builder implements Nfa {
  edges: Nfa['edges'] = [];
  eps: Nfa['eps'] = [];
  start = 0;
  accept = 0;

  state(): number {
    if (this.edges.length >= MAX_STATES)
      throw new PatternError(
        `the pattern is too large to check (over ${MAX_STATES} states); write it shorter or list the names instead.`,
      );
    this.edges.push([]);
    this.eps.push([]);
    return this.edges.length - 1;
  }

  /** Compiles `node` between a new entry state and a new exit state. */
  fragment(node: PatternNode): { from: number; to: number } {
    const from = this.state();
    const to = this.state();
    this.wire(node, from, to);
    return { from, to };
  }

  private wire(node: PatternNode, from: number, to: number): void {
    switch (node.kind) {
      case 'char':
        this.edges[from]!.push({ test: node.test, to });
        return;
      case 'start':
      case 'end':
        this.eps[from]!.push({ to, when: node.kind });
        return;
      case 'alt':
        for (const option of node.options) this.wire(option, from, to);
        return;
      case 'seq': {
        let at = from;
        node.items.forEach((item, i) => {
          const next = i === node.items.length - 1 ? to : this.state();
          this.wire(item, at, next);
          at = next;
        });
        if (node.items.length === 0) this.eps[from]!.push({ to });
        return;
      }
      case 'repeat':
        this.wireRepeat(node, from, to);
    }
  }

  private wireRepeat(node: Extract<PatternNode, { kind: 'repeat' }>, from: number, to: number): void {
    let at = from;
    for (let i = 0; i < node.min; i++) {
      const next = this.state();
      this.wire(node.item, at, next);
      at = next;
    }
    if (node.max === Infinity) {
      // A loop through its own states: entering and leaving by epsilon keeps `(a*)*` from looping on nothing.
      const loop = this.fragment(node.item);
      this.eps[at]!.push({ to: loop.from }, { to });
      this.eps[loop.to]!.push({ to: loop.from }, { to });
      return;
    }
    for (let i = node.min; i < node.max; i++) {
      this.eps[at]!.push({ to });
      const next = this.state();
      this.wire(node.item, at, next);
      at = next;
    }
    this.eps[at]!.push({ to });
  }
}

/** A compiled pattern: `matches(text)` for one string, `advance`/`accepts` to share work across common prefixes. */
export interface LinearMatcher {
  matches(text: string): boolean;
  /** The states before any input. */
  initial(): MatchState;
  /** The states after reading `text` from `state` (not at the end of the input yet). */
  advance(state: MatchState, text: string): MatchState;
  /** Whether the input ending here matches. */
  accepts(state: MatchState): boolean;
}

/** A set of NFA states, sorted; `key` identifies it, so that equal sets can share their answers. */
export interface MatchState {
  states: number[];
  key: string;
}

/** Compiles a pattern tree; throws PatternError when it is too large. */
export function compilePattern(node: PatternNode): LinearMatcher {
  const nfa = new Builder();
  const whole = nfa.fragment(node);
  nfa.start = whole.from;
  nfa.accept = whole.to;
  const closure = (seeds: Iterable<number>, atStart: boolean, atEnd: boolean): MatchState => {
    const seen = new Uint8Array(nfa.edges.length);
    const stack = [...seeds];
    for (const s of stack) seen[s] = 1;
    while (stack.length > 0) {
      const s = stack.pop()!;
      for (const e of nfa.eps[s]!) {
        if (seen[e.to] || (e.when === 'start' && !atStart) || (e.when === 'end' && !atEnd)) continue;
        seen[e.to] = 1;
        stack.push(e.to);
      }
    }
    const states: number[] = [];
    for (let i = 0; i < seen.length; i++) if (seen[i]) states.push(i);
    return { states, key: states.join(',') };
  };
  const initial = () => closure([nfa.start], true, false);
  const advance = (state: MatchState, text: string): MatchState => {
    let current = state;
    for (let i = 0; i < text.length && current.states.length > 0; i++) {
      const code = text.charCodeAt(i);
      const next: number[] = [];
      for (const s of current.states) for (const edge of nfa.edges[s]!) if (edge.test(code)) next.push(edge.to);
      current = closure(next, false, false);
    }
    return current;
  };
  const accepts = (state: MatchState) => closure(state.states, false, true).states.includes(nfa.accept);
  return {
    initial,
    advance,
    accepts,
    matches: (text) => {
      if (text.length === 0) return closure([nfa.start], true, true).states.includes(nfa.accept);
      return accepts(advance(initial(), text));
    },
  };
}

/** A character test for one code unit. */
export const isChar = (code: number) => (c: number) => c === code;
export const anyChar = () => true;
