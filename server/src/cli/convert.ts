import { convertConfig, writeConversion } from '../core/analysis/convertConfig';
import { ExitCode, type CliIO } from './io';
import { helpText, parseArgs, plural, shortUsage, type CommandSpec } from './options';
import { readConfigFile } from './readConfigFile';
import { jsonOutcome, reportFailure, wantsJson, type CliError } from './report';

export const CONVERT: CommandSpec = {
  name: 'convert',
  usage: ['FILE [--force] [options]'],
  summary:
    'Writes the LoRA Lens config equivalent to an axolotl or LLaMA-Factory config beside it\n' +
    '(<name>.finetune.yaml) and lists every key that could not be carried over.',
  options: [{ name: 'force', help: 'replace an existing <name>.finetune.yaml' }],
  notes: [
    'exit: 0 written, 1 the file cannot be converted or the output exists, 2 usage error or a file that cannot be read.',
  ],
  positionals: [1, 1],
  positionalName: 'FILE',
};

/** `lora-lens convert FILE`: our dialect's config beside the file, never overwriting without --force. */
export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(CONVERT, args);
  const json = wantsJson(args);
  // Every outcome prints its JSON when asked (cli/report.ts jsonOutcome), failures included.
  const fail = (code: number, error: CliError, body: Record<string, unknown> = {}, text?: string) =>
    reportFailure(io, 'convert', json, code, error, body, text);
  if (typeof parsed === 'string')
    return fail(
      ExitCode.usage,
      { kind: 'usage', message: parsed },
      {},
      `lora-lens convert: ${parsed}\n${shortUsage(CONVERT)}\n`,
    );
  if (parsed.help) {
    io.stdout.write(helpText(CONVERT));
    return ExitCode.ok;
  }
  const file = parsed.positionals[0]!;
  if (file === '-')
    return fail(ExitCode.usage, {
      kind: 'usage',
      message: 'the converted file is written beside the config; pass a file, not stdin.',
    });
  const read = await readConfigFile(file, io.cwd);
  if (!read.ok) return fail(ExitCode.usage, { kind: 'unreadable', message: read.message }, { file });
  const conversion = convertConfig(read.text, read.path);
  if (!conversion.ok)
    return fail(ExitCode.problems, { kind: 'not-converted', message: conversion.message }, { file: read.path });
  const written = writeConversion(conversion, parsed.flags.has('force'));
  if (!written.ok)
    return fail(
      ExitCode.problems,
      { kind: written.exists ? 'output-exists' : 'unwritable', message: written.message },
      { file: read.path, output: conversion.outputPath },
    );
  if (json) {
    io.stdout.write(
      jsonOutcome('convert', ExitCode.ok, null, {
        file: read.path,
        dialect: conversion.dialect,
        output: conversion.outputPath,
        notCarried: conversion.lost,
      }),
    );
    return ExitCode.ok;
  }
  io.stdout.write(`${file} (${conversion.dialect}) -> ${conversion.outputPath}\n`);
  if (conversion.lost.length === 0) io.stdout.write('Every key was carried over.\n');
  else {
    io.stdout.write(`Not carried over (${plural(conversion.lost.length, 'key')}):\n`);
    for (const item of conversion.lost) io.stdout.write(`  ${item.key}: ${item.reason}\n`);
  }
  return ExitCode.ok;
}
