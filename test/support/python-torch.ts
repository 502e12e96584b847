/**
 * Debian's PyTorch, for the tests that train and export the examples/pytorch models. The
 * preflight checks it for each test file that imports this module; `requirePythonTorch` fails
 * the file's tests with the same message when it is run past the preflight. Node built-ins only,
 * so that the preflight can import it cheaply.
 */
import { execFile } from 'node:child_process';

/** The Python that has Debian's python3-torch and python3-onnx: `FOGLINE_TEST_PYTHON`, else /usr/bin/python3. */
export function pythonPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.FOGLINE_TEST_PYTHON || '/usr/bin/python3';
}

/** How to get them. */
export const PYTHON_TORCH_FIX =
  "sudo apt-get install python3-torch python3-onnx (Debian's PyTorch 1.13 and ONNX 1.12; no pip), or FOGLINE_TEST_PYTHON=<a python3 that imports torch and onnx>";

/** Resolves to why `python` cannot import torch and onnx, or undefined when it can. */
export function pythonTorchProblem(python: string = pythonPath()): Promise<string | undefined> {
  return new Promise((resolve) => {
    // Importing torch takes a few seconds on a busy machine.
    execFile(python, ['-c', 'import torch, onnx'], { timeout: 60_000 }, (error, _stdout, stderr) => {
      if (!error) return resolve(undefined);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return resolve('not found');
      const lastLine = stderr.trim().split('\n').at(-1);
      resolve(lastLine || error.message);
    });
  });
}

/** Throws, naming what is missing and how to install it, unless the test Python has torch and onnx. */
export async function requirePythonTorch(): Promise<string> {
  const python = pythonPath();
  const problem = await pythonTorchProblem(python);
  if (problem) throw new Error(`PyTorch and ONNX for ${python}: ${problem}. Fix: ${PYTHON_TORCH_FIX}`);
  return python;
}
