/**
 * Helpers for tests on the mediasoup engine: media node processes with a real worker, JSON calls
 * to their control APIs, an RTP publisher and an RTP receiver on loopback UDP sockets.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { onTestFinished } from 'vitest';

import type { SequencedLifecycleEvent } from '../../media/lifecycle.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const READY_LINE = /^media-node (\S+) listening (http:\/\/\S+)$/m;

export function uniqueId(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Returns the worker binary for the installed mediasoup version: MEDIASOUP_WORKER_BIN, or where
 * test/infra/build-mediasoup-worker.sh puts it. Throws, so that the tests fail and do not skip,
 * when it is missing.
 */
export function mediasoupWorkerBin(): string {
  const packageJson = JSON.parse(
    readFileSync(join(ROOT, 'node_modules/mediasoup/package.json'), 'utf8'),
  ) as { version: string };
  const cacheDir = process.env['FORK_SERVICE_CACHE'] || join(ROOT, '.cache');
  const bin =
    process.env['MEDIASOUP_WORKER_BIN'] ||
    join(cacheDir, `mediasoup-worker-${packageJson.version}`, 'mediasoup-worker');
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new Error(
      `mediasoup worker binary ${bin} is missing; build it with 'bash test/infra/build-mediasoup-worker.sh' (CI's .ci/run does) or set MEDIASOUP_WORKER_BIN`,
    );
  }
  return bin;
}

export interface MediaNodeProcess {
  nodeId: string;
  url: string;
  child: ChildProcess;
  stderr: () => string;
}

/**
 * Starts bin/media-node.ts with the mediasoup engine and waits for its ready line. The process
 * is killed when the current test, or the suite for a call in beforeAll, finishes: pass
 * `register` to hand the cleanup to a hook.
 */
export async function startMediasoupNode(
  region: string,
  register: (cleanup: () => void) => void = onTestFinished,
  timeoutMs = 20_000,
): Promise<MediaNodeProcess> {
  const nodeId = `ms-${uniqueId()}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/media-node.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      NODE_ID: nodeId,
      REGION: region,
      LOG_LEVEL: 'warn',
      MEDIA_ENGINE: 'mediasoup',
      MEDIASOUP_WORKER_BIN: mediasoupWorkerBin(),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  register(() => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = stdout.match(READY_LINE);
    if (match !== null) {
      return { nodeId, url: match[2] ?? '', child, stderr: () => stderr };
    }
    if (child.exitCode !== null) {
      throw new Error(`media node exited with ${child.exitCode}: ${stderr}`);
    }
    await sleep(50);
  }
  throw new Error(`media node printed no ready line within ${timeoutMs} ms: ${stderr}`);
}

export interface JsonReply {
  httpStatus: number;
  body: Record<string, unknown> & { status: string };
}

/** Sends one JSON request to a control API and returns the parsed reply, whatever its status. */
export async function callNode(
  node: Pick<MediaNodeProcess, 'url'>,
  method: 'GET' | 'PUT' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<JsonReply> {
  const init: RequestInit = { method, signal: AbortSignal.timeout(10_000) };
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`${node.url}${path}`, init);
  return { httpStatus: response.status, body: (await response.json()) as JsonReply['body'] };
}

/** Like callNode, but throws with the reply when its status is not `ok`. */
export async function callNodeOk(
  node: Pick<MediaNodeProcess, 'url'>,
  method: 'GET' | 'PUT' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const reply = await callNode(node, method, path, body);
  if (reply.body.status !== 'ok') {
    throw new Error(`${method} ${path} returned ${reply.httpStatus} ${JSON.stringify(reply.body)}`);
  }
  return reply.body;
}

/** Polls until `read` returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  description: string,
  read: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    }
    await sleep(100);
  }
}

/** Returns the first lifecycle event of the node that matches, waiting for it. */
export async function waitForLifecycleEvent(
  node: Pick<MediaNodeProcess, 'url'>,
  match: (event: SequencedLifecycleEvent) => boolean,
  timeoutMs = 10_000,
): Promise<SequencedLifecycleEvent> {
  return waitFor(
    'a matching lifecycle event',
    async () => {
      const body = await callNodeOk(node, 'GET', '/events?after=0&limit=1000');
      return (body['events'] as SequencedLifecycleEvent[]).find(match);
    },
    timeoutMs,
  );
}

export interface RtpReceiver {
  port: number;
  /** RTP packets received so far, RTCP not counted. */
  packets: () => number;
}

/** Binds a UDP socket on 127.0.0.1 that counts the RTP packets it receives. */
export async function startRtpReceiver(): Promise<RtpReceiver> {
  const socket = createSocket('udp4');
  let packets = 0;
  socket.on('message', (message) => {
    if (message.length >= 12 && !isRtcp(message)) {
      packets += 1;
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  onTestFinished(() => closeSocket(socket));
  return { port: socket.address().port, packets: () => packets };
}

export interface RtpTarget {
  ip: string;
  port: number;
  payloadType: number;
  ssrc: number;
}

/**
 * Sends `count` RTP packets of 160 payload bytes to `target`, one every `intervalMs`, from a new
 * socket on 127.0.0.1, and resolves when the last one is sent.
 */
export async function sendRtp(target: RtpTarget, count: number, intervalMs = 10): Promise<void> {
  const socket = createSocket('udp4');
  onTestFinished(() => closeSocket(socket));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  for (let sequence = 0; sequence < count; sequence += 1) {
    const packet = rtpPacket(target, sequence, sequence * 960);
    await new Promise<void>((resolve, reject) =>
      socket.send(packet, target.port, target.ip, (error) =>
        error === null ? resolve() : reject(error),
      ),
    );
    await sleep(intervalMs);
  }
}

/** Builds an RTP packet (RFC 3550 header, no CSRC or extension) with a filler payload. */
function rtpPacket(target: RtpTarget, sequence: number, timestamp: number): Buffer {
  const packet = Buffer.alloc(12 + 160, 0xab);
  packet[0] = 0x80;
  packet[1] = target.payloadType & 0x7f;
  packet.writeUInt16BE(sequence & 0xffff, 2);
  packet.writeUInt32BE(timestamp >>> 0, 4);
  packet.writeUInt32BE(target.ssrc >>> 0, 8);
  return packet;
}

/** RTCP packet types 192-223 sit where RTP has the marker bit and payload type (RFC 5761). */
function isRtcp(message: Buffer): boolean {
  const type = message[1] ?? 0;
  return type >= 192 && type <= 223;
}

function closeSocket(socket: Socket): void {
  try {
    socket.close();
  } catch (error) {
    // A socket that is already closed throws ERR_SOCKET_DGRAM_NOT_RUNNING, which is the state
    // this cleanup wants.
    if ((error as NodeJS.ErrnoException).code !== 'ERR_SOCKET_DGRAM_NOT_RUNNING') {
      throw error;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
