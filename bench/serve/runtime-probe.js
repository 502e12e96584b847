// bench/serve runtime probe, preloaded into the agents the bench starts (NODE_OPTIONS=--import):
// registers runtime-probe-hooks.js, which records in $BENCH_PROBE_FILE whether the process imported
// TensorFlow.js (a process serving on ONNX Runtime never does) and, with BENCH_BLOCK_ONNX=1, makes
// `import('onnxruntime-node')` fail so that the agent serves built-in models on TensorFlow.js, as on a
// machine without ONNX Runtime. With BENCH_CPU_PROF_DIR it also writes a V8 CPU profile there when
// the process exits (Node 20 refuses --cpu-prof in NODE_OPTIONS). Nothing else in the agent changes.
import fs from 'node:fs';
import inspector from 'node:inspector';
import { register } from 'node:module';
import path from 'node:path';

register('./runtime-probe-hooks.js', import.meta.url);

const profileDir = process.env.BENCH_CPU_PROF_DIR;
if (profileDir) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  // A session on the main thread answers synchronously, so this works inside 'exit'.
  process.on('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      fs.mkdirSync(profileDir, { recursive: true });
      fs.writeFileSync(path.join(profileDir, `agent-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
