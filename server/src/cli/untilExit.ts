/**
 * Follows a child this command started until it exits, turning Ctrl-C (SIGINT), SIGTERM and SIGHUP (a closed terminal
 * or SSH session) into the child's one stop sequence (server/src/runs/process.ts) instead of killing this process
 * first; says whether a signal asked for it. The trainer runs in its own process group, so a hang-up reaches only
 * this process: without this, the terminal closing would leave the trainer to run on unheard, or end it on its next
 * write without a checkpoint.
 */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export async function untilExit<T>(child: {
  done: Promise<T>;
  stop(): Promise<T>;
}): Promise<{ exit: T; interrupted: boolean }> {
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    void child.stop();
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  try {
    return { exit: await child.done, interrupted };
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  }
}
