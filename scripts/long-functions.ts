// Lists the TypeScript functions longer than a limit (80 lines by default) in server/src, extension/src and webview,
// longest first: `npx tsx scripts/long-functions.ts [--limit N] [--json]`. test/architecture/longFunctions.test.ts
// fails on any such function outside its allow-list. A function's length is its lines from its first token (after
// its doc comment) to its closing brace, blank and comment lines included: what a reader scrolls through.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

export const REPO = resolve(__dirname, '..');
export const SOURCE_FOLDERS = ['server/src', 'extension/src', 'webview'];
export const LINE_LIMIT = 80;

export interface LongFunction {
  /** Repository-relative path, with forward slashes. */
  file: string;
  /** 1-based line of the function's first token. */
  line: number;
  /** `name`, `Class.method`, or `<anonymous>` for a callback with nothing to name it by. */
  name: string;
  lines: number;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The name a reader would search for: the declaration's own, else the variable or property it is assigned to. */
function functionName(node: ts.FunctionLikeDeclaration): string {
  const own = node.name && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name)) ? node.name.text : undefined;
  const parent = node.parent;
  let name = own;
  if (!name && ts.isConstructorDeclaration(node)) name = 'constructor';
  if (
    !name &&
    (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
  )
    name = ts.isIdentifier(parent.name) ? parent.name.text : undefined;
  const owner = ts.isClassLike(parent) && parent.name ? `${parent.name.text}.` : '';
  return name ? owner + name : '<anonymous>';
}

/** Every function-like node (declarations, methods, accessors, arrows, function expressions) of one file. */
function functionsOf(file: string, text: string): Array<Omit<LongFunction, 'file'>> {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Array<Omit<LongFunction, 'file'>> = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({ line: first + 1, name: functionName(node as ts.FunctionLikeDeclaration), lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The functions over `limit` lines in `folders` (repository-relative), longest first. */
export function longFunctions(limit = LINE_LIMIT, folders = SOURCE_FOLDERS, root = REPO): LongFunction[] {
  const long: LongFunction[] = [];
  for (const folder of folders) {
    for (const path of sourceFiles(join(root, folder))) {
      const file = relative(root, path).split('\\').join('/');
      for (const fn of functionsOf(file, readFileSync(path, 'utf8'))) if (fn.lines > limit) long.push({ file, ...fn });
    }
  }
  return long.sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file) || a.line - b.line);
}

/** Also for one source text, so the measure itself can be tested. */
export function functionLengths(text: string): Array<Omit<LongFunction, 'file'>> {
  return functionsOf('input.ts', text);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--limit');
  const limit = at >= 0 ? Number(args[at + 1]) : LINE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) {
    console.error(`--limit takes a whole number of lines, 1 or more (got ${args[at + 1] ?? 'nothing'})`);
    process.exit(2);
  }
  const long = longFunctions(limit);
  if (args.includes('--json')) console.log(JSON.stringify(long, null, 2));
  else {
    for (const fn of long) console.log(`${String(fn.lines).padStart(4)}  ${fn.file}:${fn.line}  ${fn.name}`);
    console.log(`${long.length} function(s) over ${limit} lines in ${SOURCE_FOLDERS.join(', ')}`);
  }
}
