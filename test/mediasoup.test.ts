/**
 * The mediasoup engine on real worker processes: two media node processes (bin/media-node.ts
 * with MEDIA_ENGINE=mediasoup), RTP from a UDP socket of the test into an origin on node A,
 * mirrors on node B and on A itself, and faults that close mediasoup objects or kill a worker.
 * The worker binary must have been built by test/infra/build-mediasoup-worker.sh. Without it
 * every test fails with a message that names the script.
 */
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';

import { startMediaAgent } from '../media/agent.ts';
import { controlPaths } from '../media/control-api.ts';
import type { EngineStream, RtpIngest } from '../media/engine.ts';
import type { SequencedLifecycleEvent } from '../media/lifecycle.ts';
import { mediasoupPaths } from '../media/mediasoup-routes.ts';
import type { StreamMediaStats, WorkerInfo } from '../media/mediasoup-engine.ts';
import {
  callNode,
  callNodeOk,
  sendRtp,
  startMediasoupNode,
  startRtpReceiver,
  uniqueId,
  waitFor,
  waitForLifecycleEvent,
  type MediaNodeProcess,
} from './support/mediasoup-node.ts';

type Node = Pick<MediaNodeProcess, 'url'>;

async function publishOrigin(node: Node, streamId: string): Promise<EngineStream> {
  const body = await callNodeOk(node, 'PUT', controlPaths.stream(streamId), {
    kind: 'origin',
    sessionId: `session-${uniqueId()}`,
    capabilities: ['hd'],
  });
  return body['stream'] as EngineStream;
}

async function createMirror(
  node: Node,
  streamId: string,
  upstreamId: string,
  upstreamNode: Node,
): Promise<EngineStream> {
  const body = await callNodeOk(node, 'PUT', controlPaths.stream(streamId), {
    kind: 'mirror',
    sessionId: `session-${uniqueId()}`,
    upstreamId,
    upstreamUrl: upstreamNode.url,
  });
  return body['stream'] as EngineStream;
}

async function readStream(node: Node, streamId: string): Promise<EngineStream> {
  const body = await callNodeOk(node, 'GET', controlPaths.stream(streamId));
  return body['stream'] as EngineStream;
}

async function mediaStats(node: Node, streamId: string): Promise<StreamMediaStats> {
  const body = await callNodeOk(node, 'GET', mediasoupPaths.stats(streamId));
  return body['stats'] as StreamMediaStats;
}

async function workerInfo(node: Node): Promise<WorkerInfo> {
  const body = await callNodeOk(node, 'GET', mediasoupPaths.worker());
  return body as unknown as WorkerInfo;
}

async function subscriberIds(node: Node, streamId: string): Promise<string[]> {
  const body = await callNodeOk(node, 'GET', controlPaths.subscribers(streamId));
  return (body['subscribers'] as { mirrorId: string }[]).map((s) => s.mirrorId);
}

/** Sends RTP to the stream's RTP egress on `node` and returns how many packets arrived. */
async function startEgress(node: Node, streamId: string): Promise<() => number> {
  const receiver = await startRtpReceiver();
  await callNodeOk(node, 'POST', mediasoupPaths.rtpEgress(streamId), {
    ip: '127.0.0.1',
    port: receiver.port,
  });
  return receiver.packets;
}

function requireIngest(stream: EngineStream): RtpIngest {
  if (stream.ingest === undefined) {
    throw new Error(`origin ${stream.streamId} has no ingest address`);
  }
  return stream.ingest;
}

function endedEvent(streamId: string): (event: SequencedLifecycleEvent) => boolean {
  return (event) => event.event === 'ended' && event.streamId === streamId;
}

describe('mediasoup engine across agent processes', () => {
  let nodeA: MediaNodeProcess;
  let nodeB: MediaNodeProcess;
  const cleanups: (() => void)[] = [];

  beforeAll(async () => {
    [nodeA, nodeB] = await Promise.all([
      startMediasoupNode('us-east', (cleanup) => cleanups.push(cleanup)),
      startMediasoupNode('eu-west', (cleanup) => cleanups.push(cleanup)),
    ]);
  });

  afterAll(() => {
    for (const cleanup of cleanups) {
      cleanup();
    }
  });

  test('publish returns the RTP ingest address', async () => {
    const origin = await publishOrigin(nodeA, `origin.${uniqueId()}`);

    const ingest = requireIngest(origin);
    expect(ingest.ip).toBe('127.0.0.1');
    expect(ingest.port).toBeGreaterThan(0);
    expect(ingest.payloadType).toBe(100);
    expect(ingest.ssrc).toBeGreaterThan(0);
    expect(ingest.mimeType).toBe('audio/opus');
  });

  test('remote mirror delivers RTP to a consumer', async () => {
    const originId = `origin.${uniqueId()}`;
    const mirrorId = `mirror.${uniqueId()}`;
    const origin = await publishOrigin(nodeA, originId);
    const mirror = await createMirror(nodeB, mirrorId, originId, nodeA);
    const received = await startEgress(nodeB, mirrorId);

    await sendRtp(requireIngest(origin), 50);

    expect(mirror.state).toBe('started');
    expect(mirror.upstreamNodeUrl).toBe(nodeA.url);
    const arrived = await waitFor('RTP at the consumer on node B', async () =>
      received() > 0 ? received() : undefined,
    );
    expect(arrived).toBeGreaterThan(0);
    expect((await mediaStats(nodeA, originId)).packetCount).toBe(50);
    expect((await mediaStats(nodeB, mirrorId)).packetCount).toBeGreaterThan(0);
  });

  test('closed origin producer ends the mirror', async () => {
    const originId = `origin.${uniqueId()}`;
    const mirrorId = `mirror.${uniqueId()}`;
    await publishOrigin(nodeA, originId);
    await createMirror(nodeB, mirrorId, originId, nodeA);

    await callNodeOk(nodeA, 'POST', mediasoupPaths.closeProducerFault(originId));

    const originEnd = await waitForLifecycleEvent(nodeA, endedEvent(originId));
    expect(originEnd.reason).toBe('producer-closed');
    const mirrorEnd = await waitForLifecycleEvent(nodeB, endedEvent(mirrorId));
    expect(mirrorEnd.reason).toBe('origin-stream-ended');
    expect(mirrorEnd.upstreamId).toBe(originId);
    expect((await readStream(nodeB, mirrorId)).state).toBe('ended');
  });

  test('closed pipe transport ends the mirror', async () => {
    const originId = `origin.${uniqueId()}`;
    const mirrorId = `mirror.${uniqueId()}`;
    await publishOrigin(nodeA, originId);
    await createMirror(nodeB, mirrorId, originId, nodeA);
    expect((await mediaStats(nodeA, originId)).transportCount).toBe(2);

    await callNodeOk(nodeB, 'POST', mediasoupPaths.closePipeTransportFault(mirrorId));

    const mirrorEnd = await waitForLifecycleEvent(nodeB, endedEvent(mirrorId));
    expect(mirrorEnd.reason).toBe('transport-closed');
    await waitFor('the detach on node A', async () =>
      (await subscriberIds(nodeA, originId)).length === 0 ? true : undefined,
    );
    expect((await mediaStats(nodeA, originId)).transportCount).toBe(1);
    expect((await readStream(nodeA, originId)).state).toBe('started');
  });

  test('destroyed mirror closes both pipe ends', async () => {
    const originId = `origin.${uniqueId()}`;
    const mirrorId = `mirror.${uniqueId()}`;
    await publishOrigin(nodeA, originId);
    const routersBefore = (await workerInfo(nodeB)).routerCount;
    await createMirror(nodeB, mirrorId, originId, nodeA);
    expect((await workerInfo(nodeB)).routerCount).toBe(routersBefore + 1);

    await callNodeOk(nodeB, 'DELETE', controlPaths.stream(mirrorId), { reason: 'test-ended' });

    expect((await workerInfo(nodeB)).routerCount).toBe(routersBefore);
    expect(await subscriberIds(nodeA, originId)).toEqual([]);
    expect((await mediaStats(nodeA, originId)).transportCount).toBe(1);
  });

  test('same-node mirror delivers RTP and cascades', async () => {
    const originId = `origin.${uniqueId()}`;
    const mirrorId = `mirror.${uniqueId()}`;
    const origin = await publishOrigin(nodeA, originId);
    const mirror = await createMirror(nodeA, mirrorId, originId, nodeA);
    const received = await startEgress(nodeA, mirrorId);

    await sendRtp(requireIngest(origin), 30);

    expect(mirror.upstreamNodeUrl).toBeNull();
    await waitFor('RTP at the consumer of the same-node mirror', async () =>
      received() > 0 ? true : undefined,
    );
    await callNodeOk(nodeA, 'DELETE', controlPaths.stream(originId), { reason: 'test-ended' });
    const ended = await readStream(nodeA, mirrorId);
    expect(ended.state).toBe('ended');
    expect(ended.endReason).toBe('origin-stream-ended');
  });

  test('failed mirror leaves no router', async () => {
    const routersBefore = (await workerInfo(nodeB)).routerCount;

    const reply = await callNode(nodeB, 'PUT', controlPaths.stream(`mirror.${uniqueId()}`), {
      kind: 'mirror',
      sessionId: 'session-1',
      upstreamId: `missing.${uniqueId()}`,
      upstreamUrl: nodeA.url,
    });

    expect(reply.body.status).toBe('origin-not-found');
    expect((await workerInfo(nodeB)).routerCount).toBe(routersBefore);
  });

  test('mirror of ended origin leaves nothing', async () => {
    const originId = `origin.${uniqueId()}`;
    await publishOrigin(nodeA, originId);
    await callNodeOk(nodeA, 'DELETE', controlPaths.stream(originId), { reason: 'test-ended' });
    const [routersA, routersB] = [
      (await workerInfo(nodeA)).routerCount,
      (await workerInfo(nodeB)).routerCount,
    ];

    const reply = await callNode(nodeB, 'PUT', controlPaths.stream(`mirror.${uniqueId()}`), {
      kind: 'mirror',
      sessionId: 'session-1',
      upstreamId: originId,
      upstreamUrl: nodeA.url,
    });

    expect(reply.body.status).toBe('origin-stream-ended');
    expect((await workerInfo(nodeA)).routerCount).toBe(routersA);
    expect((await workerInfo(nodeB)).routerCount).toBe(routersB);
  });
});

describe('mediasoup engine beside a simulated node', () => {
  test('simulated mirror of mediasoup origin fails', async () => {
    const mediasoupNode = await startMediasoupNode('us-east');
    const simulated = await startMediaAgent({ nodeId: `sim-${uniqueId()}`, region: 'eu-west' });
    onTestFinished(() => simulated.close());
    const originId = `origin.${uniqueId()}`;
    await publishOrigin(mediasoupNode, originId);

    const reply = await callNode(
      simulated.info,
      'PUT',
      controlPaths.stream(`mirror.${uniqueId()}`),
      {
        kind: 'mirror',
        sessionId: 'session-1',
        upstreamId: originId,
        upstreamUrl: mediasoupNode.url,
      },
    );

    expect(reply.body.status).toBe('internal-error');
    expect(reply.body['message']).toContain('can only pipe to a mediasoup node');
    expect(await subscriberIds(mediasoupNode, originId)).toEqual([]);
  });

  test('mediasoup mirror of simulated origin fails', async () => {
    const mediasoupNode = await startMediasoupNode('eu-west');
    const simulated = await startMediaAgent({ nodeId: `sim-${uniqueId()}`, region: 'us-east' });
    onTestFinished(() => simulated.close());
    const originId = `origin.${uniqueId()}`;
    await publishOrigin(simulated.info, originId);
    const routersBefore = (await workerInfo(mediasoupNode)).routerCount;

    const reply = await callNode(
      mediasoupNode,
      'PUT',
      controlPaths.stream(`mirror.${uniqueId()}`),
      {
        kind: 'mirror',
        sessionId: 'session-1',
        upstreamId: originId,
        upstreamUrl: simulated.info.url,
      },
    );

    expect(reply.body.status).toBe('internal-error');
    expect(reply.body['message']).toContain('needs a mediasoup upstream');
    expect((await workerInfo(mediasoupNode)).routerCount).toBe(routersBefore);
    expect(simulated.engine.subscribers(originId)).toEqual([]);
  });
});

describe('mediasoup worker death', () => {
  test('killed worker ends mirrors as node-failed', async () => {
    const [nodeA, nodeB] = await Promise.all([
      startMediasoupNode('us-east'),
      startMediasoupNode('eu-west'),
    ]);
    const originId = `origin.${uniqueId()}`;
    const mirrorIds = [`mirror.${uniqueId()}`, `mirror.${uniqueId()}`];
    await publishOrigin(nodeA, originId);
    for (const mirrorId of mirrorIds) {
      await createMirror(nodeB, mirrorId, originId, nodeA);
    }
    const { pid } = await workerInfo(nodeB);

    process.kill(pid, 'SIGKILL');

    for (const mirrorId of mirrorIds) {
      const event = await waitForLifecycleEvent(nodeB, endedEvent(mirrorId));
      expect(event.reason).toBe('node-failed');
    }
    const status = await callNodeOk(nodeB, 'GET', controlPaths.node());
    expect(status['failed']).toBe(true);
    expect(status['load']).toBe(0);
    await waitFor('the detaches on node A', async () =>
      (await subscriberIds(nodeA, originId)).length === 0 ? true : undefined,
    );
    expect((await mediaStats(nodeA, originId)).transportCount).toBe(1);
    const rejected = await callNode(nodeB, 'PUT', controlPaths.stream(`origin.${uniqueId()}`), {
      kind: 'origin',
      sessionId: 'session-1',
    });
    expect(rejected.body.status).toBe('capacity');
  });

  test('recovered node starts a new worker', async () => {
    const node = await startMediasoupNode('eu-west');
    const { pid } = await workerInfo(node);
    process.kill(pid, 'SIGKILL');
    await waitFor('the node to report the failure', async () =>
      (await callNodeOk(node, 'GET', controlPaths.node()))['failed'] === true ? true : undefined,
    );

    await callNodeOk(node, 'POST', controlPaths.recoverNodeFault());

    const restarted = await workerInfo(node);
    expect(restarted.pid).not.toBe(pid);
    const origin = await publishOrigin(node, `origin.${uniqueId()}`);
    expect(origin.state).toBe('started');
  });
});
