// Long-running commands (serve, simulate) close cleanly on SIGTERM / SIGINT: exit 0, or 1 if closing fails.
// A second signal while closing exits at once with 1, without waiting for the drain to finish.

export interface SignalShutdown {
  /** Starts closing, as a first signal does (again: nothing). */
  begin(): void;
  /** Exits now with 1, as a second signal does. */
  force(): void;
}

export function closeOnSignals(close: () => Promise<void>): SignalShutdown {
  let closing = false;
  const begin = (): void => {
    if (closing) return;
    closing = true;
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`error during shutdown: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  const force = (): void => {
    process.stderr.write('second signal: exiting without finishing the drain\n');
    process.exit(1);
  };
  const onSignal = (): void => (closing ? force() : begin());
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return { begin, force };
}
