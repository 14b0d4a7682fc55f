/**
 * bin/media-node.ts as a child process, and its environment parsing. The process test starts
 * `node --import tsx` directly (not through npx) so that signals reach the agent's process.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { describe, expect, onTestFinished, test } from 'vitest';

import { controlPaths } from '../media/control-api.ts';
import { MediaCluster } from '../media/media-cluster.ts';
import { InvalidEnvError, parseMediaNodeEnv } from '../media/node-env.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const READY_LINE = /^media-node (\S+) listening (http:\/\/\S+)$/m;

function uniqueId(): string {
  return randomBytes(6).toString('hex');
}

interface NodeProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function spawnMediaNode(env: Record<string, string>): NodeProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/media-node.ts'], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function waitForReadyLine(node: NodeProcess, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = node.stdout().match(READY_LINE);
    if (match !== null) {
      return match;
    }
    if (node.child.exitCode !== null) {
      throw new Error(`media node exited with ${node.child.exitCode}: ${node.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`media node printed no ready line within ${timeoutMs} ms: ${node.stderr()}`);
}

describe('media node process', () => {
  test('process serves the control API and stops on SIGTERM', async () => {
    const nodeId = `proc-${uniqueId()}`;
    const node = spawnMediaNode({ NODE_ID: nodeId, REGION: 'eu-west', CAPACITY: '3' });

    const [, printedId, url] = await waitForReadyLine(node);
    expect(printedId).toBe(nodeId);
    const cluster = new MediaCluster([{ nodeId, region: 'eu-west', url: url ?? '' }]);
    const status = await cluster.nodeStatus(nodeId);
    const streamId = `eu-west#${nodeId}#proc.${uniqueId()}`;
    const stream = await cluster.publish(nodeId, {
      streamId,
      sessionId: 'session-1',
      capabilities: [],
    });
    const raw = await fetch(`${url}${controlPaths.stream(streamId)}`);

    expect(status).toEqual({ nodeId, region: 'eu-west', load: 0, capacity: 3, failed: false });
    expect(stream.streamId).toBe(streamId);
    expect(((await raw.json()) as { stream: { streamId: string } }).stream.streamId).toBe(streamId);

    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
    expect(node.stdout().trim().split('\n')).toHaveLength(1);
  });

  test('invalid environment exits 1 naming the variable', async () => {
    const node = spawnMediaNode({ NODE_ID: 'bad#id', REGION: 'eu-west' });

    expect(await node.exited).toBe(1);
    expect(node.stderr()).toContain('NODE_ID');
    expect(node.stdout()).toBe('');
  });
});

describe('parseMediaNodeEnv', () => {
  test('defaults apply to optional variables', () => {
    expect(parseMediaNodeEnv({ NODE_ID: 'n1', REGION: 'us-east' })).toEqual({
      nodeId: 'n1',
      region: 'us-east',
      host: '127.0.0.1',
      port: 0,
      capacity: 10_000,
      logLevel: 'info',
      engineName: 'simulated',
      mediasoupListenIp: '127.0.0.1',
      mediasoupAnnouncedIp: undefined,
      kafkaBrokers: null,
      topicPrefix: '',
    });
  });

  test('invalid KAFKA_BROKERS is named', () => {
    expect(() =>
      parseMediaNodeEnv({ NODE_ID: 'n1', REGION: 'us-east', KAFKA_BROKERS: 'no-port' }),
    ).toThrow(/KAFKA_BROKERS/);
  });

  test('mediasoup engine variables are read', () => {
    const env = parseMediaNodeEnv({
      NODE_ID: 'n1',
      REGION: 'us-east',
      MEDIA_ENGINE: 'mediasoup',
      MEDIASOUP_LISTEN_IP: '::1',
      MEDIASOUP_ANNOUNCED_IP: '203.0.113.7',
    });

    expect(env.engineName).toBe('mediasoup');
    expect(env.mediasoupListenIp).toBe('::1');
    expect(env.mediasoupAnnouncedIp).toBe('203.0.113.7');
  });

  test.each([
    [{ REGION: 'us-east' }, 'NODE_ID'],
    [{ NODE_ID: 'n1' }, 'REGION'],
    [{ NODE_ID: 'n 1', REGION: 'us-east' }, 'NODE_ID'],
    [{ NODE_ID: 'n1', REGION: 'us#east' }, 'REGION'],
    [{ NODE_ID: 'n1', REGION: 'us-east', PORT: '70000' }, 'PORT'],
    [{ NODE_ID: 'n1', REGION: 'us-east', PORT: '80.5' }, 'PORT'],
    [{ NODE_ID: 'n1', REGION: 'us-east', CAPACITY: '-1' }, 'CAPACITY'],
    [{ NODE_ID: 'n1', REGION: 'us-east', CAPACITY: 'many' }, 'CAPACITY'],
    [{ NODE_ID: 'n1', REGION: 'us-east', HOST: 'a b' }, 'HOST'],
    [{ NODE_ID: 'n1', REGION: 'us-east', LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ NODE_ID: 'n1', REGION: 'us-east', MEDIA_ENGINE: 'janus' }, 'MEDIA_ENGINE'],
    [{ NODE_ID: 'n1', REGION: 'us-east', MEDIASOUP_LISTEN_IP: 'localhost' }, 'MEDIASOUP_LISTEN_IP'],
    [
      { NODE_ID: 'n1', REGION: 'us-east', MEDIASOUP_ANNOUNCED_IP: '1.2.3' },
      'MEDIASOUP_ANNOUNCED_IP',
    ],
  ])('invalid %j names %s', (env, variable) => {
    let error: unknown;
    try {
      parseMediaNodeEnv(env);
    } catch (caught) {
      error = caught;
    }

    expect(error).toBeInstanceOf(InvalidEnvError);
    expect((error as InvalidEnvError).variable).toBe(variable);
    expect((error as InvalidEnvError).message).toMatch(new RegExp(`^${variable}: `));
  });
});
