/**
 * A member that left a destination, or re-entered it with other streams, through REST kept the
 * mirrors a fork had placed for it running with no member referencing them.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PcastClient, streamIdOf } from '../support/pcast.ts';
import { channelPath, startTestService, type TestService } from '../support/service.ts';

let service: TestService;
let pcast: PcastClient;

beforeAll(async () => {
  service = await startTestService({ embedded: true });
  pcast = new PcastClient(service);
});

afterAll(async () => {
  await service?.stop();
});

async function forkedMirror(): Promise<{ destination: string; session: string; mirrorId: string }> {
  const source = await pcast.sourceWith(1, { streams: 1 });
  const destination = await pcast.createChannel('Destination');
  expect((await pcast.fork(destination.channelId, source.channelId)).code).toBe(200);
  const [member] = await pcast.members(destination.channelId);
  return {
    destination: destination.channelId,
    session: member?.sessionId ?? '',
    mirrorId: streamIdOf(member?.streams[0]?.uri ?? ''),
  };
}

test('leave ends the member mirrors', async () => {
  const { destination, session, mirrorId } = await forkedMirror();

  await pcast.leave(destination, session);

  const mirror = await pcast.stream(mirrorId);
  expect(mirror.state).toBe('ended');
  expect(mirror.endReason).toBe('member-left');
});

test('re-entry with other streams ends dropped mirrors', async () => {
  const { destination, session, mirrorId } = await forkedMirror();
  const own = await pcast.publish(session);

  await pcast.join(destination, session, [own]);

  expect((await pcast.stream(mirrorId)).state).toBe('ended');
  expect((await pcast.stream(streamIdOf(own))).state).toBe('started');
});

test('leave keeps the member origin streams', async () => {
  const destination = await pcast.createChannel('Destination');
  const own = await pcast.publish('publisher');
  await pcast.join(destination.channelId, 'publisher', [own]);

  await pcast.leave(destination.channelId, 'publisher');

  expect((await pcast.stream(streamIdOf(own))).state).toBe('started');
});

test('fork into itself is rejected', async () => {
  const room = await pcast.createChannel('Self');
  const reply = await service.call(
    'PUT',
    channelPath(room.channelId, `/fork/${encodeURIComponent(room.channelId)}`),
    { options: ['force'] },
  );
  expect(reply.code).toBe(400);
  expect(reply.body.status).toBe('invalid-room-id');
});

test('capability with a comma is rejected', async () => {
  const source = await pcast.createChannel('Source');
  const destination = await pcast.createChannel('Destination');
  const reply = await pcast.fork(destination.channelId, source.channelId, {
    streamCapabilities: ['a,b'],
  });
  expect(reply.code).toBe(400);
});
