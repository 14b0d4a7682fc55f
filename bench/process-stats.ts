/** Resident memory and CPU time of a process, read from Linux's /proc/<pid>/ files. */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export interface ProcessMemory {
  /** Resident set size now, in bytes (VmRSS). */
  rssBytes: number;
  /** Peak resident set size since the process started, in bytes (VmHWM). */
  peakRssBytes: number;
}

export async function readProcessMemory(pid: number): Promise<ProcessMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return { rssBytes: kibField(status, 'VmRSS'), peakRssBytes: kibField(status, 'VmHWM') };
}

function kibField(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (match?.[1] === undefined) {
    throw new Error(`/proc status has no ${field} line`);
  }
  return Number(match[1]) * 1024;
}

let clockTicksPerSecond: number | undefined;

/** CPU time the process used so far, user plus system, in seconds. */
export async function readCpuSeconds(pid: number): Promise<number> {
  clockTicksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name in field 2 may contain spaces, so fields are counted after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const userTicks = Number(fields[11]);
  const systemTicks = Number(fields[12]);
  return (userTicks + systemTicks) / clockTicksPerSecond;
}

export interface NamedProcess {
  name: string;
  pid: number;
}

/** CPU seconds that each process used between `start()` and `stop()`. */
export class CpuMeter {
  readonly #processes: readonly NamedProcess[];
  readonly #before = new Map<number, number>();

  constructor(processes: readonly NamedProcess[]) {
    this.#processes = processes;
  }

  async start(): Promise<void> {
    for (const { pid } of this.#processes) {
      this.#before.set(pid, await readCpuSeconds(pid));
    }
  }

  async stop(): Promise<{ name: string; cpuSeconds: number }[]> {
    const used = [];
    for (const { name, pid } of this.#processes) {
      used.push({ name, cpuSeconds: (await readCpuSeconds(pid)) - (this.#before.get(pid) ?? 0) });
    }
    return used;
  }
}
