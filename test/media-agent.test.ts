/**
 * Media node agents over real HTTP on loopback: publish, federation of mirrors across agents,
 * cascade, fault injection and lifecycle events. Each test starts its own agents.
 */
import { randomBytes } from 'node:crypto';

import { describe, expect, onTestFinished, test } from 'vitest';

import { isServiceError } from '../domain/errors.ts';
import { startMediaAgent } from '../media/agent.ts';
import type { MediaAgent, MediaAgentOptions } from '../media/agent.ts';
import { controlPaths } from '../media/control-api.ts';
import type { EngineStream } from '../media/engine.ts';
import type { MediaLifecycleEvent } from '../media/lifecycle.ts';
import { MediaCluster } from '../media/media-cluster.ts';

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

/** Returns a new stream id in the platform's form, with `#` separators. */
function newStreamId(agent: MediaAgent, name = 'stream'): string {
  return `${agent.info.region}#${agent.info.nodeId}#${name}.${uniqueId()}`;
}

function clusterOf(...agents: MediaAgent[]): MediaCluster {
  return new MediaCluster(agents.map((agent) => agent.info));
}

/**
 * Fields of the control API's replies. Each test reads only the fields that its route returns;
 * a missing one reads as undefined and fails the test's assertion.
 */
interface ReplyBody {
  status: string;
  message?: string;
  created?: boolean;
  failed?: boolean;
  stream: EngineStream;
  streams: EngineStream[];
  ended: EngineStream[];
}

async function call(
  agent: MediaAgent,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ code: number; body: ReplyBody }> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`${agent.info.url}${path}`, init);
  return { code: response.status, body: (await response.json()) as ReplyBody };
}

function recordEvents(agent: MediaAgent): MediaLifecycleEvent[] {
  const events: MediaLifecycleEvent[] = [];
  agent.events.on('lifecycle', (event) => events.push(event));
  return events;
}

async function publishOrigin(agent: MediaAgent, name = 'origin'): Promise<EngineStream> {
  const streamId = newStreamId(agent, name);
  return clusterOf(agent).publish(agent.info.nodeId, {
    streamId,
    sessionId: `session-${uniqueId()}`,
    capabilities: ['rtmp', 'streaming'],
  });
}

async function expectServiceError(promise: Promise<unknown>, status: string): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(isServiceError(error), `expected a ServiceError ${status}, got ${String(error)}`).toBe(
    true,
  );
  expect((error as { status: string }).status).toBe(status);
  return error as Error;
}

describe('media agent publish', () => {
  test('origin publish returns started stream', async () => {
    const agent = await startAgent();
    const events = recordEvents(agent);

    const stream = await publishOrigin(agent);

    expect(stream.state).toBe('started');
    expect(stream.kind).toBe('origin');
    expect(stream.nodeId).toBe(agent.info.nodeId);
    expect(stream.capabilities).toEqual(['rtmp', 'streaming']);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event: 'started',
      streamId: stream.streamId,
      nodeId: agent.info.nodeId,
      upstreamId: null,
      reason: null,
    });
    const node = await call(agent, 'GET', '/node');
    expect(node.body).toEqual({
      status: 'ok',
      nodeId: agent.info.nodeId,
      region: 'us-east',
      load: 1,
      capacity: 10_000,
      failed: false,
    });
  });

  test('stream ids with reserved characters round-trip', async () => {
    const agent = await startAgent();
    const ids = [
      `us-east#${agent.info.nodeId}#camelCase.${uniqueId()}`,
      `a/b?c=d&e#f%20g ${uniqueId()}`,
      `ünï#cödé#${uniqueId()}`,
    ];

    for (const streamId of ids) {
      const put = await call(agent, 'PUT', controlPaths.stream(streamId), {
        kind: 'origin',
        sessionId: 'session-1',
      });
      expect(put.code, JSON.stringify(put.body)).toBe(200);
      expect(put.body.stream.streamId).toBe(streamId);

      const get = await call(agent, 'GET', controlPaths.stream(streamId));
      expect(get.code).toBe(200);
      expect(get.body.stream.streamId).toBe(streamId);
    }
    const list = await call(agent, 'GET', controlPaths.streams());
    expect(list.body.streams.map((s: EngineStream) => s.streamId).sort()).toEqual([...ids].sort());
  });

  test('repeated origin publish is idempotent', async () => {
    const agent = await startAgent();
    const events = recordEvents(agent);
    const streamId = newStreamId(agent);
    const body = { kind: 'origin', sessionId: 'session-1', capabilities: ['rtmp'] };

    const first = await call(agent, 'PUT', controlPaths.stream(streamId), body);
    const second = await call(agent, 'PUT', controlPaths.stream(streamId), body);

    expect(first.body.created).toBe(true);
    expect(second.code).toBe(200);
    expect(second.body.created).toBe(false);
    expect(second.body.stream).toEqual(first.body.stream);
    expect(events.filter((event) => event.event === 'started')).toHaveLength(1);
  });

  test('origin publish conflicts with other session', async () => {
    const agent = await startAgent();
    const streamId = newStreamId(agent);
    await call(agent, 'PUT', controlPaths.stream(streamId), { kind: 'origin', sessionId: 'a' });

    const other = await call(agent, 'PUT', controlPaths.stream(streamId), {
      kind: 'origin',
      sessionId: 'b',
    });

    expect(other.code).toBe(409);
    expect(other.body.status).toBe('already-exists');
  });

  test('publish of ended id is already-exists', async () => {
    const agent = await startAgent();
    const origin = await publishOrigin(agent);
    await clusterOf(agent).destroy(agent.info.nodeId, origin.streamId, 'test-ended');

    const again = await call(agent, 'PUT', controlPaths.stream(origin.streamId), {
      kind: 'origin',
      sessionId: origin.sessionId,
    });

    expect(again.code).toBe(409);
    expect(again.body.status).toBe('already-exists');
    expect(again.body.message).toContain('test-ended');
  });

  test('full node rejects publish with capacity', async () => {
    const agent = await startAgent({ capacity: 1 });
    const origin = await publishOrigin(agent);

    const rejected = await call(agent, 'PUT', controlPaths.stream(newStreamId(agent)), {
      kind: 'origin',
      sessionId: 'session-2',
    });
    const repeat = await call(agent, 'PUT', controlPaths.stream(origin.streamId), {
      kind: 'origin',
      sessionId: origin.sessionId,
    });

    expect(rejected.code).toBe(503);
    expect(rejected.body.status).toBe('capacity');
    expect(repeat.code, 'a repeat of a live stream needs no free slot').toBe(200);
  });

  test('invalid requests get 4xx with status', async () => {
    const agent = await startAgent();
    const streamPath = controlPaths.stream(newStreamId(agent));
    const cases: { method: string; path: string; body?: unknown; code: number; status: string }[] =
      [
        {
          method: 'PUT',
          path: streamPath,
          body: { kind: 'other' },
          code: 400,
          status: 'invalid-request',
        },
        {
          method: 'PUT',
          path: streamPath,
          body: { kind: 'origin' },
          code: 400,
          status: 'invalid-request',
        },
        {
          method: 'PUT',
          path: streamPath,
          body: { kind: 'origin', sessionId: 's', capabilities: 'rtmp' },
          code: 400,
          status: 'invalid-request',
        },
        {
          method: 'PUT',
          path: streamPath,
          body: { kind: 'mirror', sessionId: 's', upstreamId: 'x', upstreamUrl: 'ftp://host' },
          code: 400,
          status: 'invalid-uri',
        },
        { method: 'PUT', path: streamPath, body: [], code: 400, status: 'invalid-request' },
        { method: 'DELETE', path: streamPath, body: {}, code: 400, status: 'invalid-request' },
        {
          method: 'DELETE',
          path: streamPath,
          body: { reason: 'x' },
          code: 404,
          status: 'not-found',
        },
        { method: 'GET', path: streamPath, code: 404, status: 'not-found' },
        { method: 'GET', path: '/no-such-route', code: 404, status: 'not-found' },
        { method: 'GET', path: '/events?after=-1', code: 400, status: 'invalid-request' },
      ];

    for (const testCase of cases) {
      const reply = await call(agent, testCase.method, testCase.path, testCase.body);
      const label = `${testCase.method} ${testCase.path} ${JSON.stringify(testCase.body)}`;
      expect(reply.code, label).toBe(testCase.code);
      expect(reply.body.status, label).toBe(testCase.status);
      expect(typeof reply.body.message, label).toBe('string');
    }
  });

  test('malformed JSON gets invalid-request', async () => {
    const agent = await startAgent();
    const response = await fetch(`${agent.info.url}${controlPaths.stream('x')}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"kind":',
    });

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ status: 'invalid-request' });
  });
});

describe('media agent mirrors', () => {
  test('mirror across agents copies the origin', async () => {
    const upstream = await startAgent();
    const downstream = await startAgent();
    const cluster = clusterOf(upstream, downstream);
    const upstreamEvents = recordEvents(upstream);
    const downstreamEvents = recordEvents(downstream);
    const origin = await publishOrigin(upstream);
    const mirrorId = newStreamId(downstream, 'mirror');

    const mirror = await cluster.createMirror(downstream.info, {
      streamId: mirrorId,
      sessionId: origin.sessionId,
      upstreamId: origin.streamId,
      upstreamNodeId: upstream.info.nodeId,
    });

    expect(mirror).toMatchObject({
      streamId: mirrorId,
      nodeId: downstream.info.nodeId,
      kind: 'mirror',
      upstreamId: origin.streamId,
      upstreamNodeUrl: upstream.info.url,
      state: 'started',
      capabilities: origin.capabilities,
    });
    expect(upstream.engine.subscribers(origin.streamId)).toMatchObject([
      { mirrorId, nodeUrl: downstream.info.url },
    ]);
    const subscribers = await fetch(
      `${upstream.info.url}${controlPaths.subscribers(origin.streamId)}`,
    );
    expect(await subscribers.json()).toMatchObject({
      status: 'ok',
      subscribers: [{ mirrorId, nodeUrl: downstream.info.url }],
    });
    expect(downstreamEvents).toMatchObject([
      { event: 'started', streamId: mirrorId, upstreamId: origin.streamId },
    ]);
    expect(upstreamEvents.map((event) => event.event)).toEqual(['started']);
  });

  test('mirror on the same node attaches directly', async () => {
    const agent = await startAgent();
    const origin = await publishOrigin(agent);
    const mirrorId = newStreamId(agent, 'mirror');

    const mirror = await clusterOf(agent).createMirror(agent.info.nodeId, {
      streamId: mirrorId,
      sessionId: origin.sessionId,
      upstreamId: origin.streamId,
      upstreamNodeId: agent.info.nodeId,
      capabilities: ['rtmp'],
    });

    expect(mirror.upstreamNodeUrl).toBeNull();
    expect(mirror.capabilities).toEqual(['rtmp']);
    expect(agent.engine.subscribers(origin.streamId)).toMatchObject([{ mirrorId, nodeUrl: null }]);
  });

  test('repeated mirror request is idempotent', async () => {
    const upstream = await startAgent();
    const downstream = await startAgent();
    const origin = await publishOrigin(upstream);
    const mirrorPath = controlPaths.stream(newStreamId(downstream, 'mirror'));
    const body = {
      kind: 'mirror',
      sessionId: origin.sessionId,
      upstreamId: origin.streamId,
      upstreamUrl: upstream.info.url,
    };

    const [first, second] = await Promise.all([
      call(downstream, 'PUT', mirrorPath, body),
      call(downstream, 'PUT', mirrorPath, body),
    ]);
    const third = await call(downstream, 'PUT', mirrorPath, body);

    expect(first.code).toBe(200);
    expect(second.code).toBe(200);
    expect([first.body.created, second.body.created].sort()).toEqual([false, true]);
    expect(third.body.created).toBe(false);
    expect(third.body.stream).toEqual(first.body.stream);
    expect(upstream.engine.subscribers(origin.streamId)).toHaveLength(1);
    expect(downstream.engine.load().live).toBe(1);
  });

  test('mirror id reused for another upstream is already-exists', async () => {
    const upstream = await startAgent();
    const downstream = await startAgent();
    const origin = await publishOrigin(upstream);
    const otherOrigin = await publishOrigin(upstream);
    const mirrorPath = controlPaths.stream(newStreamId(downstream, 'mirror'));
    const body = {
      kind: 'mirror',
      sessionId: origin.sessionId,
      upstreamId: origin.streamId,
      upstreamUrl: upstream.info.url,
    };
    await call(downstream, 'PUT', mirrorPath, body);

    const reused = await call(downstream, 'PUT', mirrorPath, {
      ...body,
      upstreamId: otherOrigin.streamId,
    });

    expect(reused.code).toBe(409);
    expect(reused.body.status).toBe('already-exists');
    expect(upstream.engine.subscribers(otherOrigin.streamId)).toEqual([]);
  });

  test('mirror of ended origin is origin-stream-ended', async () => {
    const upstream = await startAgent();
    const downstream = await startAgent();
    const cluster = clusterOf(upstream, downstream);
    const origin = await publishOrigin(upstream);
    await cluster.destroy(upstream.info.nodeId, origin.streamId, 'publisher-left');
    const mirrorId = newStreamId(downstream, 'mirror');

    const error = await expectServiceError(
      cluster.createMirror(downstream.info, {
        streamId: mirrorId,
        sessionId: origin.sessionId,
        upstreamId: origin.streamId,
        upstreamNodeId: upstream.info.nodeId,
      }),
      'origin-stream-ended',
    );

    expect(error.message).toContain('publisher-left');
    expect(downstream.engine.get(mirrorId)).toBeUndefined();
    expect(downstream.engine.load().live).toBe(0);
  });

  test('mirror of unknown origin is origin-not-found', async () => {
    const upstream = await startAgent();
    const downstream = await startAgent();
    const mirrorPath = controlPaths.stream(newStreamId(downstream, 'mirror'));

    const reply = await call(downstream, 'PUT', mirrorPath, {
      kind: 'mirror',
      sessionId: 'session-1',
      upstreamId: newStreamId(upstream, 'missing'),
      upstreamUrl: upstream.info.url,
    });

    expect(reply.code).toBe(422);
    expect(reply.body.status).toBe('origin-not-found');
  });

  test('mirror on full node is capacity', async () => {
    const upstream = await startAgent();
    const downstream = await startAgent({ capacity: 0 });
    const origin = await publishOrigin(upstream);

    await expectServiceError(
      clusterOf(upstream, downstream).createMirror(downstream.info, {
        streamId: newStreamId(downstream, 'mirror'),
        sessionId: origin.sessionId,
        upstreamId: origin.streamId,
        upstreamNodeId: upstream.info.nodeId,
      }),
      'capacity',
    );

    expect(upstream.engine.subscribers(origin.streamId)).toEqual([]);
  });

  test('mirror failing after attach detaches upstream', async () => {
    const upstream = await startAgent();
    const downstream = await startAgent();
    const origin = await publishOrigin(upstream);
    // The downstream node fails while the upstream handles the attach, so the mirror fails
    // after the upstream recorded it.
    const attach = upstream.engine.attachSubscriber.bind(upstream.engine);
    upstream.engine.attachSubscriber = async (...args) => {
      const attachment = await attach(...args);
      await downstream.engine.failNode();
      return attachment;
    };
    const mirrorId = newStreamId(downstream, 'mirror');

    await expectServiceError(
      clusterOf(upstream, downstream).createMirror(downstream.info, {
        streamId: mirrorId,
        sessionId: origin.sessionId,
        upstreamId: origin.streamId,
        upstreamNodeId: upstream.info.nodeId,
      }),
      'capacity',
    );

    expect(upstream.engine.subscribers(origin.streamId)).toEqual([]);
    expect(downstream.engine.get(mirrorId)).toBeUndefined();
  });

  test('mirror with unreachable upstream is capacity', async () => {
    const gone = await startMediaAgent({ nodeId: `node-${uniqueId()}`, region: 'us-east' });
    await gone.close();
    const downstream = await startAgent();

    const reply = await call(downstream, 'PUT', controlPaths.stream(newStreamId(downstream)), {
      kind: 'mirror',
      sessionId: 'session-1',
      upstreamId: 'us-east#gone#origin',
      upstreamUrl: gone.info.url,
    });

    expect(reply.code).toBe(503);
    expect(reply.body.status).toBe('capacity');
    expect(reply.body.message).toContain(gone.info.url);
    expect(downstream.engine.load().live).toBe(0);
  });
});

describe('media agent cascade', () => {
  test('ending origin ends mirrors on every agent', async () => {
    const upstream = await startAgent();
    const downstream = await startAgent();
    const third = await startAgent();
    const cluster = clusterOf(upstream, downstream, third);
    const downstreamEvents = recordEvents(downstream);
    const thirdEvents = recordEvents(third);
    const origin = await publishOrigin(upstream);
    const mirror = (node: MediaAgent, upstreamId: string, upstreamNode: MediaAgent) =>
      cluster.createMirror(node.info, {
        streamId: newStreamId(node, 'mirror'),
        sessionId: origin.sessionId,
        upstreamId,
        upstreamNodeId: upstreamNode.info.nodeId,
      });
    const localMirror = await mirror(upstream, origin.streamId, upstream);
    const remoteMirror = await mirror(downstream, origin.streamId, upstream);
    const mirrorOfMirror = await mirror(third, remoteMirror.streamId, downstream);

    const ended = await cluster.destroy(upstream.info.nodeId, origin.streamId, 'publisher-left');

    // The destroy resolves only after every node of the cascade has ended its mirror.
    expect(ended?.endReason).toBe('publisher-left');
    for (const [agent, stream] of [
      [upstream, localMirror],
      [downstream, remoteMirror],
      [third, mirrorOfMirror],
    ] as const) {
      const current = agent.engine.get(stream.streamId);
      expect(current?.state, stream.streamId).toBe('ended');
      expect(current?.endReason, stream.streamId).toBe('origin-stream-ended');
    }
    expect(downstreamEvents.at(-1)).toMatchObject({
      event: 'ended',
      streamId: remoteMirror.streamId,
      upstreamId: origin.streamId,
      reason: 'origin-stream-ended',
    });
    expect(thirdEvents.at(-1)).toMatchObject({
      event: 'ended',
      streamId: mirrorOfMirror.streamId,
      reason: 'origin-stream-ended',
    });
    expect(upstream.engine.load().live).toBe(0);
    expect(downstream.engine.load().live).toBe(0);
    expect(third.engine.load().live).toBe(0);
  });

  test('ending mirror detaches it from upstream', async () => {
    const upstream = await startAgent();
    const downstream = await startAgent();
    const cluster = clusterOf(upstream, downstream);
    const origin = await publishOrigin(upstream);
    const mirror = await cluster.createMirror(downstream.info, {
      streamId: newStreamId(downstream, 'mirror'),
      sessionId: origin.sessionId,
      upstreamId: origin.streamId,
      upstreamNodeId: upstream.info.nodeId,
    });

    const ended = await cluster.destroy(
      downstream.info.nodeId,
      mirror.streamId,
      'replaced-by-fork',
    );
    const again = await cluster.destroy(downstream.info.nodeId, mirror.streamId, 'other-reason');

    expect(ended?.state).toBe('ended');
    expect(again?.endReason, 'a second destroy changes nothing').toBe('replaced-by-fork');
    expect(upstream.engine.subscribers(origin.streamId)).toEqual([]);
    expect(upstream.engine.get(origin.streamId)?.state).toBe('started');
  });

  test('stale upstream-ended notice is ignored', async () => {
    const upstream = await startAgent();
    const downstream = await startAgent();
    const origin = await publishOrigin(upstream);
    const mirror = await clusterOf(upstream, downstream).createMirror(downstream.info, {
      streamId: newStreamId(downstream, 'mirror'),
      sessionId: origin.sessionId,
      upstreamId: origin.streamId,
      upstreamNodeId: upstream.info.nodeId,
    });

    const reply = await call(downstream, 'POST', controlPaths.upstreamEnded(mirror.streamId), {
      upstreamId: 'us-east#other#stream',
    });

    expect(reply.code).toBe(200);
    expect(reply.body.stream.state).toBe('started');
  });

  test('destroy and get of unknown stream return undefined', async () => {
    const agent = await startAgent();
    const cluster = clusterOf(agent);

    expect(await cluster.destroy(agent.info.nodeId, newStreamId(agent), 'x')).toBeUndefined();
    expect(await cluster.getStream(agent.info.nodeId, newStreamId(agent))).toBeUndefined();
  });
});

describe('media agent faults', () => {
  test('end fault emits ended with default reason', async () => {
    const agent = await startAgent();
    const origin = await publishOrigin(agent);
    const events = recordEvents(agent);

    const reply = await call(agent, 'POST', controlPaths.endFault(origin.streamId), {});

    expect(reply.code).toBe(200);
    expect(reply.body.stream.endReason).toBe('media-node-ended');
    expect(events).toMatchObject([
      { event: 'ended', streamId: origin.streamId, reason: 'media-node-ended' },
    ]);
  });

  test('end fault takes a reason', async () => {
    const agent = await startAgent();
    const origin = await publishOrigin(agent);

    const reply = await call(agent, 'POST', controlPaths.endFault(origin.streamId), {
      reason: 'encoder-crashed',
    });

    expect(reply.body.stream.endReason).toBe('encoder-crashed');
  });

  test('stall fault emits stalled and keeps state', async () => {
    const upstream = await startAgent();
    const downstream = await startAgent();
    const origin = await publishOrigin(upstream);
    const mirror = await clusterOf(upstream, downstream).createMirror(downstream.info, {
      streamId: newStreamId(downstream, 'mirror'),
      sessionId: origin.sessionId,
      upstreamId: origin.streamId,
      upstreamNodeId: upstream.info.nodeId,
    });
    const events = recordEvents(downstream);

    const reply = await call(downstream, 'POST', controlPaths.stallFault(mirror.streamId));

    expect(reply.code).toBe(200);
    expect(reply.body.stream.state).toBe('started');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event: 'stalled',
      streamId: mirror.streamId,
      nodeId: downstream.info.nodeId,
      upstreamId: origin.streamId,
      reason: 'no-media-received',
    });
    expect(downstream.engine.get(mirror.streamId)?.state).toBe('started');
  });

  test('stall of ended stream is invalid-state', async () => {
    const agent = await startAgent();
    const origin = await publishOrigin(agent);
    await call(agent, 'POST', controlPaths.endFault(origin.streamId), {});

    const reply = await call(agent, 'POST', controlPaths.stallFault(origin.streamId), {});

    expect(reply.code).toBe(400);
    expect(reply.body.status).toBe('invalid-state');
  });

  test('node failure ends streams until recovery', async () => {
    const failing = await startAgent();
    const downstream = await startAgent();
    const cluster = clusterOf(failing, downstream);
    const origin = await publishOrigin(failing);
    const second = await publishOrigin(failing);
    const remoteMirror = await cluster.createMirror(downstream.info, {
      streamId: newStreamId(downstream, 'mirror'),
      sessionId: origin.sessionId,
      upstreamId: origin.streamId,
      upstreamNodeId: failing.info.nodeId,
    });
    const events = recordEvents(failing);

    const reply = await call(failing, 'POST', controlPaths.failNodeFault(), {});

    expect(reply.code).toBe(200);
    expect(reply.body.ended.map((s: EngineStream) => s.streamId).sort()).toEqual(
      [origin.streamId, second.streamId].sort(),
    );
    expect(events.map((event) => [event.event, event.reason])).toEqual([
      ['ended', 'node-failed'],
      ['ended', 'node-failed'],
    ]);
    expect(downstream.engine.get(remoteMirror.streamId)?.endReason).toBe('origin-stream-ended');
    expect(await cluster.nodeStatus(failing.info.nodeId)).toMatchObject({ load: 0, failed: true });
    await expectServiceError(publishOrigin(failing), 'capacity');

    const recovered = await call(failing, 'POST', controlPaths.recoverNodeFault(), {});

    expect(recovered.body.failed).toBe(false);
    expect((await publishOrigin(failing)).state).toBe('started');
  });

  test('lifecycle events can be read over HTTP', async () => {
    const agent = await startAgent();
    const cluster = clusterOf(agent);
    const origin = await publishOrigin(agent);

    const first = await cluster.lifecycleEvents(agent.info.nodeId, { after: 0 });
    const waiting = cluster.lifecycleEvents(agent.info.nodeId, {
      after: first.next,
      waitMs: 10_000,
    });
    await cluster.destroy(agent.info.nodeId, origin.streamId, 'publisher-left');
    const second = await waiting;

    expect(first.events).toMatchObject([{ seq: 1, event: 'started', streamId: origin.streamId }]);
    expect(first.gap).toBe(false);
    expect(second.events).toMatchObject([
      { seq: 2, event: 'ended', streamId: origin.streamId, reason: 'publisher-left' },
    ]);
    expect(second.next).toBe(2);
  });
});
