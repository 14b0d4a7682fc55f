import avro from 'avsc';
import { describe, expect, test } from 'vitest';
import { DecodeError } from '../bus/decode-error.ts';
import { codecs } from '../schemas/codec.ts';
import { fingerprintBytes, rabinFingerprint } from '../schemas/fingerprint.ts';
import type { ForkRequestMessage } from '../schemas/types.ts';

const request: ForkRequestMessage = {
  forkId: 'fork-1',
  applicationId: null,
  roomId: 'us-east#app#dest.AAAAAAAAAAAA',
  sourceRoomId: 'us-east#app#src.BBBBBBBBBBBB',
  streamCapabilities: ['hd'],
  streamTags: ['tag'],
  options: ['force'],
  desiredRegion: 'eu-west',
  requested: 1_700_000_000_000,
  sessionIds: null,
};

describe('codec', () => {
  test('fingerprint matches Avro test vectors', () => {
    // Values from the Avro specification's CRC-64-AVRO test cases for primitive schemas.
    expect(rabinFingerprint('"null"')).toBe(0x63dd24e7cc258f8an);
    expect(rabinFingerprint('"int"')).toBe(0x7275d51a3f395c8fn);
  });

  test('single-object encoding round-trips', () => {
    const bytes = codecs.forkRequest.encode(request);
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0xc3, 0x01]));
    expect({ ...codecs.forkRequest.decode(bytes) }).toEqual(request);
  });

  test('garbage raises DecodeError', () => {
    expect(() => codecs.forkRequest.decode(Buffer.from('not avro at all'))).toThrow(DecodeError);
  });

  test('message of another schema raises DecodeError', () => {
    const event = codecs.streamLifecycle.encode({
      eventId: 'e',
      event: 'ended',
      streamId: 's',
      nodeId: 'n',
      upstreamId: null,
      reason: null,
      timestamp: 1,
    });
    expect(() => codecs.forkRequest.decode(event)).toThrow(/unknown writer schema fingerprint/);
  });

  test('truncated body raises DecodeError', () => {
    const bytes = codecs.forkRequest.encode(request);
    expect(() => codecs.forkRequest.decode(bytes.subarray(0, bytes.length - 5))).toThrow(
      DecodeError,
    );
  });

  test('older writer schema is resolved', () => {
    const older = {
      type: 'record',
      name: 'ForkEvent',
      namespace: 'pcast.fork',
      fields: [
        { name: 'eventId', type: 'string' },
        {
          name: 'type',
          type: {
            type: 'enum',
            name: 'ForkEventType',
            symbols: ['ForkRequested', 'ForkCompleted'],
          },
        },
        { name: 'roomId', type: 'string' },
        { name: 'timestamp', type: 'long' },
      ],
    } as const;
    const writer = avro.Type.forSchema(older as unknown as avro.Schema);
    const bytes = Buffer.concat([
      Buffer.from([0xc3, 0x01]),
      fingerprintBytes(JSON.stringify(writer.schema())),
      writer.toBuffer({ eventId: 'e1', type: 'ForkCompleted', roomId: 'r', timestamp: 5 }),
    ]);
    expect(() => codecs.forkEvent.decode(bytes)).toThrow(DecodeError);

    codecs.forkEvent.registerWriterSchema(older as unknown as avro.Schema);
    const event = codecs.forkEvent.decode(bytes);

    expect(event.type).toBe('ForkCompleted');
    expect(event.forkId).toBeNull();
    expect(event.streamIds).toEqual([]);
  });
});
