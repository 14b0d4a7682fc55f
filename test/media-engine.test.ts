/** The simulated engine on its own: capacity, cascade, node failure, retention and events. */
import { describe, expect, test } from 'vitest';

import { isServiceError } from '../domain/errors.ts';
import type { EngineStream, UpstreamConnector } from '../media/engine.ts';
import { SimulatedEngine } from '../media/simulated-engine.ts';

function localConnector(
  engine: SimulatedEngine,
  upstreamId: string,
  mirrorId: string,
): UpstreamConnector {
  return (offer) => engine.attachSubscriber(upstreamId, { mirrorId, nodeUrl: null }, offer);
}

async function publish(engine: SimulatedEngine, streamId: string): Promise<EngineStream> {
  return engine.publish({ streamId, sessionId: 'session-1', capabilities: ['rtmp'] });
}

async function mirror(
  engine: SimulatedEngine,
  streamId: string,
  upstreamId: string,
): Promise<EngineStream> {
  return engine.createMirror(
    { streamId, sessionId: 'session-1', upstreamId, upstreamNodeUrl: null },
    localConnector(engine, upstreamId, streamId),
  );
}

async function statusOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(isServiceError(error), `expected a ServiceError, got ${String(error)}`).toBe(true);
  return (error as { status: string }).status;
}

describe('SimulatedEngine', () => {
  test('destroy cascades to local mirror chain', async () => {
    const engine = new SimulatedEngine({ nodeId: 'n1' });
    const ended: [string, string | null, number][] = [];
    engine.events.on('streamended', (stream, subscribers) =>
      ended.push([stream.streamId, stream.endReason, subscribers.length]),
    );
    await publish(engine, 'o#1');
    await mirror(engine, 'm#1', 'o#1');
    await mirror(engine, 'm#2', 'm#1');

    const result = await engine.destroy('o#1', 'publisher-left');

    expect(result.map((stream) => stream.streamId)).toEqual(['o#1', 'm#1', 'm#2']);
    expect(ended).toEqual([
      ['o#1', 'publisher-left', 1],
      ['m#1', 'origin-stream-ended', 1],
      ['m#2', 'origin-stream-ended', 0],
    ]);
    expect(engine.load().live).toBe(0);
    expect(await engine.destroy('o#1', 'again')).toEqual([]);
  });

  test('mirror inherits or overrides capabilities', async () => {
    const engine = new SimulatedEngine({ nodeId: 'n1' });
    await publish(engine, 'o#1');

    const inherited = await mirror(engine, 'm#1', 'o#1');
    const overridden = await engine.createMirror(
      {
        streamId: 'm#2',
        sessionId: 's',
        upstreamId: 'o#1',
        upstreamNodeUrl: null,
        capabilities: [],
      },
      localConnector(engine, 'o#1', 'm#2'),
    );

    expect(inherited.capabilities).toEqual(['rtmp']);
    expect(overridden.capabilities).toEqual([]);
  });

  test('mirrors being built count against capacity', async () => {
    const engine = new SimulatedEngine({ nodeId: 'n1', capacity: 3 });
    await publish(engine, 'o#1');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const pending = engine.createMirror(
      { streamId: 'm#1', sessionId: 's', upstreamId: 'o#1', upstreamNodeUrl: null },
      async (offer) => {
        await gate;
        return engine.attachSubscriber('o#1', { mirrorId: 'm#1', nodeUrl: null }, offer);
      },
    );

    expect(await statusOf(publish(engine, 'm#1')), 'the id is reserved').toBe('already-exists');
    expect((await publish(engine, 'o#2')).state).toBe('started');
    expect(await statusOf(publish(engine, 'o#3'))).toBe('capacity');

    release();
    expect((await pending).state).toBe('started');
    expect(engine.load()).toEqual({ live: 3, capacity: 3, failed: false });
  });

  test('upstream ending during build fails mirror', async () => {
    const engine = new SimulatedEngine({ nodeId: 'n1' });
    await publish(engine, 'o#1');

    const status = await statusOf(
      engine.createMirror(
        { streamId: 'm#1', sessionId: 's', upstreamId: 'o#1', upstreamNodeUrl: null },
        async (offer) => {
          const attachment = await engine.attachSubscriber(
            'o#1',
            { mirrorId: 'm#1', nodeUrl: null },
            offer,
          );
          await engine.destroy('o#1', 'publisher-left');
          return attachment;
        },
      ),
    );

    expect(status).toBe('origin-stream-ended');
    expect(engine.get('m#1')).toBeUndefined();
    expect(engine.load().live).toBe(0);
  });

  test('failNode ends every stream with node-failed', async () => {
    const engine = new SimulatedEngine({ nodeId: 'n1' });
    await publish(engine, 'o#1');
    await mirror(engine, 'm#1', 'o#1');

    const ended = await engine.failNode();

    expect(ended.map((stream) => [stream.streamId, stream.endReason])).toEqual([
      ['o#1', 'node-failed'],
      ['m#1', 'node-failed'],
    ]);
    expect(await statusOf(publish(engine, 'o#2'))).toBe('capacity');
    await engine.recoverNode();
    expect((await publish(engine, 'o#2')).state).toBe('started');
  });

  test('ended streams beyond retention are dropped', async () => {
    const engine = new SimulatedEngine({ nodeId: 'n1', endedRetention: 1 });
    await publish(engine, 'o#1');
    await publish(engine, 'o#2');

    await engine.destroy('o#1', 'x');
    await engine.destroy('o#2', 'x');

    expect(engine.get('o#1')).toBeUndefined();
    expect(engine.get('o#2')?.state).toBe('ended');
    expect(
      await statusOf(engine.attachSubscriber('o#1', { mirrorId: 'm', nodeUrl: null }, {})),
    ).toBe('origin-not-found');
    expect(
      await statusOf(engine.attachSubscriber('o#2', { mirrorId: 'm', nodeUrl: null }, {})),
    ).toBe('origin-stream-ended');
  });

  test('returned streams are copies', async () => {
    const engine = new SimulatedEngine({ nodeId: 'n1' });
    const stream = await publish(engine, 'o#1');

    stream.state = 'ended';
    stream.capabilities.push('changed');

    expect(engine.get('o#1')?.state).toBe('started');
    expect(engine.get('o#1')?.capabilities).toEqual(['rtmp']);
  });

  test('invalid options throw RangeError', () => {
    expect(() => new SimulatedEngine({ nodeId: 'n1', capacity: -1 })).toThrow(RangeError);
    expect(() => new SimulatedEngine({ nodeId: 'n1', capacity: 1.5 })).toThrow(RangeError);
    expect(() => new SimulatedEngine({ nodeId: 'n1', endedRetention: -1 })).toThrow(RangeError);
  });
});
