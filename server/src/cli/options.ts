/**
 * One argument parser for every command, so they all follow the same conventions: `--json` and `--format json`
 * everywhere, `--name value` and `--name=value`, `-h/--help` listing each option and the forms it accepts, `-` as a
 * file meaning stdin, `--` ending the options. Pure: the command prints what it returns.
 */

export interface OptionSpec {
  /** `--name`; a flag when `value` is absent. */
  name: string;
  /** A short alias (`-p`). */
  alias?: string;
  /** The value's placeholder in help (`PATH`); absent for a flag. */
  value?: string;
  help: string;
}

export interface CommandSpec {
  name: string;
  /** The usage lines after `lora-lens <name> `, e.g. `FILE... [options]`. */
  usage: string[];
  summary: string;
  options: OptionSpec[];
  /** Extra help paragraphs (accepted forms, exit codes). */
  notes?: string[];
  /** Positional arguments allowed: [min, max]. */
  positionals: [number, number];
  positionalName: string;
}

export interface ParsedArgs {
  help: boolean;
  format: 'text' | 'json';
  values: Map<string, string>;
  flags: Set<string>;
  positionals: string[];
}

/** The options every command takes. */
export const COMMON_OPTIONS: OptionSpec[] = [
  { name: 'format', value: 'text|json', help: 'output format (default text)' },
  { name: 'json', help: 'the same as --format json' },
  { name: 'help', alias: 'h', help: 'show this help' },
];

/** `--python PATH`, for every command that starts the trainer. */
export const PYTHON_OPTION: OptionSpec = {
  name: 'python',
  value: 'PATH',
  help: 'the interpreter (default $LORA_LENS_PYTHON, else python3)',
};

/** Accepted GPU forms, said once for every command that takes `--gpu`. */
export const GPU_FORMS =
  'GPU is a catalog name ("RTX 4090", "A100-80GB", "H100") or a memory size: 24GiB, 24GB, 24g, ' +
  '16384MiB, or a bare number of GiB (16 means 16 GiB).';

/** The help text of a command: usage lines, options with what they take, notes. */
export function helpText(spec: CommandSpec): string {
  const options = [...spec.options, ...COMMON_OPTIONS];
  const left = options.map((o) => `${o.alias ? `-${o.alias}, ` : '    '}--${o.name}${o.value ? ` ${o.value}` : ''}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  const lines = [
    `usage: ${spec.usage.map((u, i) => `${i ? '       ' : ''}lora-lens ${spec.name} ${u}`).join('\n')}`,
    '',
    spec.summary,
    '',
    'options:',
    ...options.map((o, i) => `  ${left[i]!.padEnd(width)}${o.help}`),
  ];
  if (spec.notes?.length) lines.push('', ...spec.notes);
  return `${lines.join('\n')}\n`;
}

/** The one-line usage shown under a usage error. */
export function shortUsage(spec: CommandSpec): string {
  return `${spec.usage.map((u, i) => `${i ? '       ' : 'usage: '}lora-lens ${spec.name} ${u}`).join('\n')}\n(lora-lens ${spec.name} --help lists the options)`;
}

/** Parses a command's arguments; a string is the usage error to print. */
export function parseArgs(spec: CommandSpec, args: string[]): ParsedArgs | string {
  const all = [...spec.options, ...COMMON_OPTIONS];
  const out: ParsedArgs = { help: false, format: 'text', values: new Map(), flags: new Set(), positionals: [] };
  let optionsEnded = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (optionsEnded || arg === '-' || !arg.startsWith('-')) {
      out.positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      optionsEnded = true;
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const key = eq > 0 ? arg.slice(2, eq) : arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const option = all.find((o) => (arg.startsWith('--') ? o.name === key : o.alias === key));
    if (!option) return `unknown option ${arg}`;
    if (!option.value) {
      if (eq > 0) return `--${option.name} takes no value`;
      if (option.name === 'help') out.help = true;
      else if (option.name === 'json') out.format = 'json';
      else out.flags.add(option.name);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined || value === '') return `--${option.name} needs a value (${option.value})`;
    if (option.name === 'format') {
      if (value !== 'text' && value !== 'json') return `--format must be text or json, not "${value}"`;
      out.format = value;
    } else out.values.set(option.name, value);
  }
  if (out.help) return out;
  const [min, max] = spec.positionals;
  if (out.positionals.length < min) return `no ${spec.positionalName} given`;
  if (out.positionals.length > max)
    return max === 1
      ? `one ${spec.positionalName} at a time (got ${out.positionals.join(', ')})`
      : `at most ${max} ${spec.positionalName}s`;
  return out;
}

/**
 * Parses a command's arguments and answers what needs no command: -h/--help (the help on stdout, exit 0) and a usage
 * error (the error and the short usage on stderr, exit 2). Returns the parsed arguments, or the exit code.
 */
export function parseCommand(
  spec: CommandSpec,
  args: string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): ParsedArgs | number {
  const parsed = parseArgs(spec, args);
  if (typeof parsed === 'string') {
    io.stderr.write(`lora-lens ${spec.name}: ${parsed}\n${shortUsage(spec)}\n`);
    return 2;
  }
  if (parsed.help) {
    io.stdout.write(helpText(spec));
    return 0;
  }
  return parsed;
}

/** "1 error", "3 errors". */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
