// What every multi-process bench run shares: timestamped progress lines and undo steps that run
// last-first on the way out, also on Ctrl-C.

/** `say(text)` prints `[  12.3 s] text`, counted from this call. */
export function progressLog(started = Date.now()) {
  return (text) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${text}`);
}

/**
 * An undo stack: `push(step)` adds a step, `cleanUp()` runs them last-first once (errors printed,
 * never thrown). SIGINT/SIGTERM print `interrupted` and run it before exiting 130.
 */
export function cleanupStack(interrupted) {
  const steps = [];
  let running;
  const cleanUp = () => {
    running ??= (async () => {
      while (steps.length > 0) {
        const step = steps.pop();
        try {
          await step();
        } catch (error) {
          console.error(`cleanup: ${error.message}`);
        }
      }
    })();
    return running;
  };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      console.error(`\n${signal}: ${interrupted}`);
      cleanUp().finally(() => process.exit(130));
    });
  }
  return { push: (step) => steps.push(step), cleanUp };
}
