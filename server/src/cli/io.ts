/** What a CLI command gets from the process; tests pass their own streams. */
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  cwd: string;
}

export type CliCommand = (args: string[], io: CliIO) => Promise<number>;

/** Exit codes shared by every command. */
export const ExitCode = { ok: 0, problems: 1, usage: 2 } as const;
