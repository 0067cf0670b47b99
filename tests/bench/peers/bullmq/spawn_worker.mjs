// Starts worker.mjs as a second process and resolves once it says "ready".
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export function startWorker(args) {
  const script = fileURLToPath(new URL('./worker.mjs', import.meta.url));
  const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (line.trim() === 'ready') resolve();
    });
    child.on('exit', (code) => reject(new Error(`worker exited early (${code})`)));
  });
  return {
    child,
    ready,
    go: () => child.stdin.write('go\n'),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.removeAllListeners('exit');
        child.on('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
