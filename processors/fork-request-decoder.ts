/**
 * Decodes a message of fork.requests: Avro single-object encoding by default, JSON when the
 * message header `content-type` is `application/json` (for producers such as kcat).
 */
import type { BusMessage } from '../bus/bus.ts';
import { DecodeError } from '../bus/decode-error.ts';
import { isServiceError } from '../domain/errors.ts';
import { assertRoomId, parseForkBody } from '../domain/fork-request.ts';
import type { ForkRequest } from '../domain/types.ts';
import { codecs } from '../schemas/codec.ts';

const ENVELOPE_KEYS = new Set(['forkId', 'applicationId', 'roomId', 'sourceRoomId', 'requested']);

export function decodeForkRequest(message: BusMessage): ForkRequest {
  const contentType = message.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  const raw =
    contentType === 'application/json'
      ? parseJsonRequest(message)
      : codecs.forkRequest.decode(message.value);
  try {
    assertRoomId(raw.roomId, 'roomId');
    assertRoomId(raw.sourceRoomId, 'sourceRoomId');
    if (raw.sourceRoomId === raw.roomId) {
      throw new DecodeError('fork request: a room cannot be forked into itself');
    }
    const body = parseForkBody({
      streamCapabilities: raw.streamCapabilities,
      streamTags: raw.streamTags,
      options: raw.options,
      desiredRegion: raw.desiredRegion,
    });
    return { ...raw, ...body };
  } catch (error) {
    if (isServiceError(error)) {
      throw new DecodeError(`fork request: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

function parseJsonRequest(message: BusMessage): ForkRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.value.toString('utf8'));
  } catch (error) {
    throw new DecodeError('fork request: invalid JSON', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DecodeError('fork request: JSON body must be an object');
  }
  const record = parsed as Record<string, unknown>;
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (!ENVELOPE_KEYS.has(key)) {
      body[key] = value;
    }
  }
  const fields = parseBodyOrThrow(body);
  for (const key of ['forkId', 'applicationId'] as const) {
    if (record[key] !== undefined && record[key] !== null && typeof record[key] !== 'string') {
      throw new DecodeError(`fork request: ${key} must be a string`);
    }
  }
  return {
    // Without a forkId, the message's position names the request, so a redelivery is the same fork.
    forkId:
      (record.forkId as string | undefined) ??
      `${message.topic}:${message.partition}:${message.offset}`,
    applicationId: (record.applicationId as string | undefined) ?? null,
    roomId: record.roomId as string,
    sourceRoomId: record.sourceRoomId as string,
    ...fields,
    requested: typeof record.requested === 'number' ? record.requested : message.timestamp,
  };
}

function parseBodyOrThrow(body: Record<string, unknown>) {
  try {
    return parseForkBody(body);
  } catch (error) {
    if (isServiceError(error)) {
      throw new DecodeError(`fork request: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
