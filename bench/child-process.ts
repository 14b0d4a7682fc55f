/**
 * Child processes of the bench: media nodes and the service under test. Each one prints a
 * ready line to stdout, and its stderr goes to a log file that the bench keeps for diagnosis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ChildOptions {
  /** Name used in messages, such as `media node us-east-1`. */
  name: string;
  /** Script path relative to the repository root, run with `node --import tsx`. */
  script: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
  /** Stdout line that means the process is ready; its capture groups are returned. */
  readyLine: RegExp;
  readyTimeoutMs: number;
}

export interface RunningChild {
  name: string;
  pid: number;
  logFile: string;
  /** Sends SIGTERM, then SIGKILL after `timeoutMs`, and resolves once the process exited. */
  stop(timeoutMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts the script with `node --import tsx` and resolves with the ready line's match. Plain
 * `npx tsx` would not forward SIGTERM to the script, so the bench could not stop it cleanly.
 */
export async function startChild(
  options: ChildOptions,
): Promise<{ child: RunningChild; match: RegExpExecArray }> {
  const logFd = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ['--import', 'tsx', options.script], {
      cwd: REPO_ROOT,
      env: options.env,
      stdio: ['ignore', 'pipe', logFd],
    });
  } finally {
    closeSync(logFd);
  }
  track(child);

  const handle: RunningChild = {
    name: options.name,
    pid: child.pid ?? -1,
    logFile: options.logFile,
    stop: (timeoutMs = 10_000) => stopProcess(child, timeoutMs),
  };
  try {
    const match = await waitForLine(child, options);
    return { child: handle, match };
  } catch (error) {
    await handle.stop();
    throw error;
  }
}

function waitForLine(child: ChildProcess, options: ChildOptions): Promise<RegExpExecArray> {
  const stdout = child.stdout;
  if (stdout === null) {
    return Promise.reject(new Error(`${options.name} was spawned without a stdout pipe`));
  }
  return new Promise((resolve, reject) => {
    // The interface stays open after the match, so it keeps draining stdout.
    const lines = createInterface({ input: stdout });
    const fail = (reason: string) => {
      cleanUp();
      void readTail(options.logFile).then((tail) =>
        reject(new Error(`${options.name} ${reason}. Last lines of ${options.logFile}:\n${tail}`)),
      );
    };
    const onLine = (line: string) => {
      const match = options.readyLine.exec(line);
      if (match !== null) {
        cleanUp();
        resolve(match);
      }
    };
    const onExit = () => fail(`exited with ${describeExit(child)} before it was ready`);
    const timer = setTimeout(
      () => fail(`was not ready within ${options.readyTimeoutMs} ms`),
      options.readyTimeoutMs,
    );
    const cleanUp = () => {
      clearTimeout(timer);
      lines.off('line', onLine);
      child.off('exit', onExit);
    };
    lines.on('line', onLine);
    child.on('exit', onExit);
  });
}

/** Kills children that are still running when the bench exits without stopping them. */
function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const leftover of running) {
        leftover.kill('SIGKILL');
      }
    });
  }
}

async function stopProcess(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

function describeExit(child: ChildProcess): string {
  return child.signalCode !== null ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
}

async function readTail(logFile: string): Promise<string> {
  try {
    return (await readFile(logFile, 'utf8')).trimEnd().split('\n').slice(-30).join('\n');
  } catch (error) {
    return `(log file unreadable: ${(error as Error).message})`;
  }
}
