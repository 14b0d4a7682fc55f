/**
 * MediaCluster against real agents on loopback: placement by load and region, skipping of
 * unreachable nodes, and the mapping of network failures to retryable ServiceErrors.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

import { describe, expect, onTestFinished, test } from 'vitest';

import { isServiceError } from '../domain/errors.ts';
import type { ServiceError } from '../domain/errors.ts';
import { startMediaAgent } from '../media/agent.ts';
import type { MediaAgent, MediaAgentOptions } from '../media/agent.ts';
import { MediaCluster } from '../media/media-cluster.ts';
import type { MediaNodeInfo } from '../media/media-cluster.ts';

function uniqueId(): string {
  return randomBytes(6).toString('hex');
}

async function startAgent(options: Partial<MediaAgentOptions> = {}): Promise<MediaAgent> {
  const agent = await startMediaAgent({
    nodeId: `node-${uniqueId()}`,
    region: 'us-east',
    ...options,
  });
  onTestFinished(() => agent.close());
  return agent;
}

/** Returns the URL of an agent that was started and closed again, so nothing listens there. */
async function closedNodeUrl(): Promise<string> {
  const agent = await startMediaAgent({ nodeId: `node-${uniqueId()}`, region: 'us-east' });
  await agent.close();
  return agent.info.url;
}

/** Starts a loopback TCP server that accepts connections and never replies, and returns its URL. */
async function startSilentServer(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    for (const socket of sockets) {
      socket.destroy();
    }
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function publishMany(cluster: MediaCluster, nodeId: string, count: number): Promise<void> {
  for (let index = 0; index < count; index += 1) {
    await cluster.publish(nodeId, {
      streamId: `us-east#${nodeId}#load.${uniqueId()}`,
      sessionId: `session-${uniqueId()}`,
      capabilities: [],
    });
  }
}

async function caught(promise: Promise<unknown>): Promise<ServiceError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(isServiceError(error), `expected a ServiceError, got ${String(error)}`).toBe(true);
  return error as ServiceError;
}

describe('MediaCluster.place', () => {
  test('place picks least loaded node', async () => {
    const busy = await startAgent({ nodeId: `a-${uniqueId()}` });
    const idle = await startAgent({ nodeId: `b-${uniqueId()}` });
    const cluster = new MediaCluster([busy.info, idle.info]);
    await publishMany(cluster, busy.info.nodeId, 2);
    await publishMany(cluster, idle.info.nodeId, 1);

    const placed = await cluster.place('us-east');

    expect(placed).toEqual(idle.info);
  });

  test('place keeps to desired region', async () => {
    const east = await startAgent({ region: 'us-east' });
    const west = await startAgent({ region: 'eu-west' });
    const cluster = new MediaCluster([east.info, west.info]);
    await publishMany(cluster, east.info.nodeId, 3);

    expect((await cluster.place('us-east')).nodeId).toBe(east.info.nodeId);
    expect((await cluster.place('eu-west')).nodeId).toBe(west.info.nodeId);
    expect((await cluster.place(null)).nodeId).toBe(west.info.nodeId);
  });

  test('place in unknown region is capacity', async () => {
    const east = await startAgent({ region: 'us-east' });
    const cluster = new MediaCluster([east.info]);

    const error = await caught(cluster.place('ap-south'));

    expect(error.status).toBe('capacity');
    expect(error.message).toContain('ap-south');
    expect(error.retryable).toBe(true);
  });

  test('place skips unreachable and failed nodes', async () => {
    const failed = await startAgent();
    const healthy = await startAgent();
    const unreachable: MediaNodeInfo = {
      nodeId: `gone-${uniqueId()}`,
      region: 'us-east',
      url: await closedNodeUrl(),
    };
    const cluster = new MediaCluster([unreachable, failed.info, healthy.info]);
    await publishMany(cluster, healthy.info.nodeId, 5);
    await cluster.injectFault(failed.info.nodeId, { type: 'fail-node' });

    expect((await cluster.place('us-east')).nodeId).toBe(healthy.info.nodeId);
  });

  test('place with every node unusable is capacity', async () => {
    const full = await startAgent({ capacity: 0 });
    const unreachable: MediaNodeInfo = {
      nodeId: `gone-${uniqueId()}`,
      region: 'us-east',
      url: await closedNodeUrl(),
    };
    const cluster = new MediaCluster([full.info, unreachable]);

    const error = await caught(cluster.place('us-east'));

    expect(error.status).toBe('capacity');
    expect(error.message).toContain(`${full.info.nodeId} at capacity (0/0)`);
    expect(error.message).toContain(`${unreachable.nodeId} unreachable`);
  });

  test('place skips node answering with another id', async () => {
    const agent = await startAgent();
    const cluster = new MediaCluster([{ ...agent.info, nodeId: `wrong-${uniqueId()}` }]);

    const error = await caught(cluster.place(null));

    expect(error.status).toBe('capacity');
    expect(error.message).toContain('unreachable');
  });
});

describe('MediaCluster errors', () => {
  test('unreachable node is retryable capacity', async () => {
    const node: MediaNodeInfo = {
      nodeId: `gone-${uniqueId()}`,
      region: 'us-east',
      url: await closedNodeUrl(),
    };
    const cluster = new MediaCluster([node]);

    const error = await caught(
      cluster.publish(node, { streamId: 'us-east#gone#x', sessionId: 's', capabilities: [] }),
    );

    expect(error.status).toBe('capacity');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain(node.nodeId);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.cause).toBeInstanceOf(Error);
  });

  test('silent node times out', async () => {
    const node: MediaNodeInfo = {
      nodeId: `silent-${uniqueId()}`,
      region: 'us-east',
      url: await startSilentServer(),
    };
    const cluster = new MediaCluster([node], { timeoutMs: 200 });

    const error = await caught(cluster.getStream(node.nodeId, 'us-east#silent#x'));

    expect(error.status).toBe('timeout');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain(node.nodeId);
  });

  test('unknown node id is invalid-request', async () => {
    const cluster = new MediaCluster([]);

    const error = await caught(cluster.getStream('nowhere', 'x'));

    expect(error.status).toBe('invalid-request');
    expect(error.retryable).toBe(false);
  });

  test('mirror of node outside cluster is origin-not-found', async () => {
    const agent = await startAgent();
    const cluster = new MediaCluster([agent.info]);

    const error = await caught(
      cluster.createMirror(agent.info, {
        streamId: 'us-east#m#1',
        sessionId: 's',
        upstreamId: 'us-east#elsewhere#1',
        upstreamNodeId: 'elsewhere',
      }),
    );

    expect(error.status).toBe('origin-not-found');
  });

  test('constructor rejects duplicate ids and bad URLs', () => {
    const node = { nodeId: 'a', region: 'us-east', url: 'http://127.0.0.1:1' };

    expect(() => new MediaCluster([node, node])).toThrow(/listed twice/);
    expect(() => new MediaCluster([{ ...node, url: 'not a url' }])).toThrow(/invalid http URL/);
    expect(() => new MediaCluster([{ ...node, url: 'ftp://127.0.0.1' }])).toThrow(
      /invalid http URL/,
    );
  });
});
