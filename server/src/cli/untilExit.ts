/**
 * Follows a child this command started until it exits, turning Ctrl-C (SIGINT) and SIGTERM into the child's one stop
 * sequence (server/src/runs/process.ts) instead of killing this process first; says whether a signal asked for it.
 */
export async function untilExit<T>(child: { done: Promise<T>; stop(): Promise<T> }): Promise<{ exit: T; interrupted: boolean }> {
  let interrupted = false;
  const onSignal = () => { interrupted = true; void child.stop(); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return { exit: await child.done, interrupted };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
