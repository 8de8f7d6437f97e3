/** What a CLI command gets from the process; tests pass their own streams. */
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  cwd: string;
  /** Read by `check -` and `estimate -`. */
  stdin?: NodeJS.ReadableStream;
}

export type CliCommand = (args: string[], io: CliIO) => Promise<number>;

/** Exit codes shared by every command: 130 is the shell's code for an interrupt (128 + SIGINT). */
export const ExitCode = { ok: 0, problems: 1, usage: 2, interrupted: 130 } as const;
