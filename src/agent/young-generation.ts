import v8 from 'node:v8';

/**
 * Keeps V8's young generation at its starting size (two 1 MiB semi-spaces) for the agent's
 * lifetime. Under a steady request load V8 otherwise grows it to its 64-bit default of two 16 MiB
 * semi-spaces, and every page of them stays resident: ~30 MiB of an agent's RSS held for objects
 * that live for one request (bench/memory). The price is more, smaller scavenges (each well under
 * a millisecond for what a request allocates). `--semi-space-growth-factor` is the one young-
 * generation flag V8 reads when it grows the space rather than when the heap is set up, so it works
 * when set from inside the process. Left alone where the operator sized the young generation
 * (`--max-semi-space-size` or `--semi-space-growth-factor` in the node flags or NODE_OPTIONS).
 * Returns whether it set the flag.
 */
export function keepYoungGenerationSmall(nodeFlags = [...process.execArgv, process.env.NODE_OPTIONS ?? '']): boolean {
  if (nodeFlags.some((flag) => /semi[-_]space/.test(flag))) return false;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}
