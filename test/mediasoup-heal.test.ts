/**
 * The fork service on media node processes with real mediasoup workers: forks, cascades and
 * heals carry RTP. The service runs embedded (in-memory bus and store) and reads the nodes'
 * lifecycle events from their control APIs. The worker binary must have been built by
 * test/infra/build-mediasoup-worker.sh.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { controlPaths } from '../media/control-api.ts';
import type { EngineStream, RtpIngest } from '../media/engine.ts';
import { mediasoupPaths } from '../media/mediasoup-routes.ts';
import type { StreamMediaStats } from '../media/mediasoup-engine.ts';
import { PcastClient, streamIdOf } from './support/pcast.ts';
import { startTestService, type TestService } from './support/service.ts';
import {
  callNodeOk,
  sendRtp,
  startMediasoupNode,
  startRtpReceiver,
  waitFor,
  type MediaNodeProcess,
} from './support/mediasoup-node.ts';

let originNode: MediaNodeProcess;
let mirrorNodes: MediaNodeProcess[];
let service: TestService;
let pcast: PcastClient;
const cleanups: (() => void)[] = [];

beforeAll(async () => {
  const register = (cleanup: () => void) => cleanups.push(cleanup);
  const nodes = await Promise.all([
    startMediasoupNode('us-east', register),
    startMediasoupNode('eu-west', register),
    startMediasoupNode('eu-west', register),
  ]);
  [originNode, ...mirrorNodes] = nodes as [MediaNodeProcess, ...MediaNodeProcess[]];
  const urls = nodes.map((node, index) => {
    const region = index === 0 ? 'us-east' : 'eu-west';
    return `${node.nodeId}@${region}=${node.url}`;
  });
  service = await startTestService({
    embedded: true,
    env: { MEDIA_NODES: 'us-east:1,eu-west:2', MEDIA_NODE_URLS: urls.join(',') },
  });
  pcast = new PcastClient(service);
});

afterAll(async () => {
  await service?.stop();
  for (const cleanup of cleanups) {
    cleanup();
  }
});

function nodeById(nodeId: string): MediaNodeProcess {
  const node = [originNode, ...mirrorNodes].find((candidate) => candidate.nodeId === nodeId);
  if (node === undefined) {
    throw new Error(`no media node process ${nodeId}`);
  }
  return node;
}

async function nodeStream(node: MediaNodeProcess, streamId: string): Promise<EngineStream> {
  const body = await callNodeOk(node, 'GET', controlPaths.stream(streamId));
  return body['stream'] as EngineStream;
}

/** Forks a source of one member with two originNode on the us-east node into eu-west mirrors. */
async function forkedToEuWest() {
  const source = await pcast.sourceWith(1, { region: 'us-east' });
  const destination = await pcast.createChannel('Destination');
  const reply = await pcast.fork(destination.channelId, source.channelId, {
    desiredRegion: 'eu-west',
  });
  expect(reply.code).toBe(200);
  return { source, destination };
}

async function mirrorIdsOf(channelId: string): Promise<string[]> {
  const [member] = await pcast.members(channelId);
  return (member?.streams ?? []).map((stream) => streamIdOf(stream.uri));
}

/**
 * Sends RTP into the mirror's origin and returns the packets that a consumer of the mirror
 * received and the packets its Producer counted.
 */
async function deliveredPackets(mirrorId: string): Promise<{ received: number; counted: number }> {
  const mirror = await pcast.stream(mirrorId);
  const mirrorNode = nodeById(mirror.node as string);
  const origin = await nodeStream(originNode, mirror.upstreamId as string);
  const receiver = await startRtpReceiver();
  await callNodeOk(mirrorNode, 'POST', mediasoupPaths.rtpEgress(mirrorId), {
    ip: '127.0.0.1',
    port: receiver.port,
  });

  await sendRtp(origin.ingest as RtpIngest, 30);

  const received = await waitFor(`RTP from mirror ${mirrorId}`, async () =>
    receiver.packets() > 0 ? receiver.packets() : undefined,
  );
  const body = await callNodeOk(mirrorNode, 'GET', mediasoupPaths.stats(mirrorId));
  return { received, counted: (body['stats'] as StreamMediaStats).packetCount };
}

describe('fork service on mediasoup workers', () => {
  test('forked mirror carries RTP across nodes', async () => {
    const { destination } = await forkedToEuWest();
    const [mirrorId] = await mirrorIdsOf(destination.channelId);
    const mirror = await pcast.stream(mirrorId ?? '');

    const packets = await deliveredPackets(mirrorId ?? '');

    expect(mirror.node).not.toBe(originNode.nodeId);
    expect(packets.received).toBeGreaterThan(0);
    expect(packets.counted).toBeGreaterThan(0);
  });

  test('closed origin producer removes member stream', async () => {
    const { source, destination } = await forkedToEuWest();
    const [member] = await pcast.members(source.channelId);
    const [closedOrigin, keptOrigin] = (member?.streams ?? []).map((s) => streamIdOf(s.uri));

    await callNodeOk(originNode, 'POST', mediasoupPaths.closeProducerFault(closedOrigin ?? ''));

    const remaining = await waitFor('the member to lose a stream', async () => {
      const ids = await mirrorIdsOf(destination.channelId);
      return ids.length === 1 ? ids : undefined;
    });
    expect((await pcast.stream(remaining[0] ?? '')).upstreamId).toBe(keptOrigin);
    expect((await nodeStream(originNode, closedOrigin ?? '')).endReason).toBe('producer-closed');
  });

  test('closed pipe transport is healed', async () => {
    const { destination } = await forkedToEuWest();
    const [oldId] = await mirrorIdsOf(destination.channelId);
    const old = await pcast.stream(oldId ?? '');

    await callNodeOk(
      nodeById(old.node as string),
      'POST',
      mediasoupPaths.closePipeTransportFault(oldId ?? ''),
    );

    const healedId = await waitFor('the healed mirror', async () => {
      const [first] = await mirrorIdsOf(destination.channelId);
      return first !== undefined && first !== oldId ? first : undefined;
    });
    const healed = await pcast.stream(healedId);
    expect(healed.state).toBe('started');
    expect(healed.upstreamId).toBe(old.upstreamId);
    const packets = await deliveredPackets(healedId);
    expect(packets.received).toBeGreaterThan(0);
    expect(packets.counted).toBeGreaterThan(0);
  });

  test('killed worker heals mirrors elsewhere', async () => {
    const { destination } = await forkedToEuWest();
    const before = await mirrorIdsOf(destination.channelId);
    const failedNodeId = (await pcast.stream(before[0] ?? '')).node as string;
    const failedNode = nodeById(failedNodeId);
    const onFailedNode: string[] = [];
    for (const id of before) {
      if ((await pcast.stream(id)).node === failedNodeId) {
        onFailedNode.push(id);
      }
    }
    const { pid } = (await callNodeOk(failedNode, 'GET', mediasoupPaths.worker())) as {
      pid: number;
    };

    process.kill(pid, 'SIGKILL');

    const after = await waitFor(
      'mirrors away from the failed node',
      async () => {
        const ids = await mirrorIdsOf(destination.channelId);
        return ids.length === before.length && ids.every((id) => !onFailedNode.includes(id))
          ? ids
          : undefined;
      },
      20_000,
    );
    for (const id of after) {
      const mirror = await pcast.stream(id);
      expect(mirror.state).toBe('started');
      expect(mirror.node).not.toBe(failedNodeId);
    }
    const packets = await deliveredPackets(after[0] ?? '');
    expect(packets.received).toBeGreaterThan(0);
    await callNodeOk(failedNode, 'POST', controlPaths.recoverNodeFault());
  });
});
