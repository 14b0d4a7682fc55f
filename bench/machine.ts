/** Facts about the machine and the code a run measured, for the report. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { KAFKA_VERSION, MONGO_JAVA_SERVER_VERSION } from '../test/infra/servers.ts';
import { REPO_ROOT } from './child-process.ts';

export interface MachineFacts {
  cores: number;
  cpuModel: string;
  memoryBytes: number;
  nodeVersion: string;
  kafkaVersion: string;
  mongoJavaServerVersion: string;
  /** Commit of the working tree, with a note when it has uncommitted changes. */
  source: string;
}

export function readMachineFacts(): MachineFacts {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    nodeVersion: process.version,
    kafkaVersion: KAFKA_VERSION,
    mongoJavaServerVersion: MONGO_JAVA_SERVER_VERSION,
    source: describeSource(),
  };
}

/** Returns the 1-minute load average, which shows how much other work the machine had. */
export function loadAverage(): number {
  return loadavg()[0] ?? Number.NaN;
}

function describeSource(): string {
  try {
    const commit = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain').length > 0;
    return dirty ? `commit ${commit} with uncommitted changes` : `commit ${commit}`;
  } catch (error) {
    return `unknown (git failed: ${(error as Error).message.split('\n')[0]})`;
  }
}

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
}
