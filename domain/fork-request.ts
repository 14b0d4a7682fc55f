/**
 * Validation of fork bodies, shared by the REST route and the fork.requests consumer so that both
 * reject the same inputs with the same messages.
 */
import { ServiceError } from './errors.ts';
import { FORK_OPTIONS, type ForkOption } from './types.ts';

export interface ForkBody {
  streamCapabilities: string[];
  streamTags: string[];
  options: ForkOption[];
  desiredRegion: string | null;
}

const ROOM_ID_PATTERN = /^[^#]+#[^#]+#.*$/;
const FORK_BODY_KEYS = new Set(['streamCapabilities', 'streamTags', 'options', 'desiredRegion']);

export function assertRoomId(roomId: unknown, field = 'roomId'): asserts roomId is string {
  if (typeof roomId !== 'string' || !ROOM_ID_PATTERN.test(roomId)) {
    throw new ServiceError(
      'invalid-room-id',
      `${field} must match <region>#<applicationId>#<name>, got ${JSON.stringify(roomId)}`,
    );
  }
}

function stringArray(body: Record<string, unknown>, field: string): string[] {
  const value = body[field];
  if (value === undefined) {
    return [];
  }
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new ServiceError('invalid-request', `${field} must be an array of strings`);
  }
  return [...value] as string[];
}

/** Validates a fork body, fills its defaults and rejects unknown keys and options. */
export function parseForkBody(body: unknown): ForkBody {
  if (body === undefined || body === null) {
    body = {};
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new ServiceError('invalid-request', 'fork body must be a JSON object');
  }
  const record = body as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!FORK_BODY_KEYS.has(key)) {
      throw new ServiceError(
        'invalid-request',
        `unknown field ${JSON.stringify(key)}; expected ${[...FORK_BODY_KEYS].join(', ')}`,
      );
    }
  }

  const streamCapabilities = stringArray(record, 'streamCapabilities');
  if (streamCapabilities.some((capability) => capability === '' || capability.includes(','))) {
    // They travel as a comma-separated URI query, so one cannot be empty or hold a comma.
    throw new ServiceError(
      'invalid-capability',
      'streamCapabilities must be non-empty strings without commas',
    );
  }
  const streamTags = stringArray(record, 'streamTags');
  const options = stringArray(record, 'options');
  for (const option of options) {
    if (!(FORK_OPTIONS as readonly string[]).includes(option)) {
      throw new ServiceError(
        'invalid-option',
        `options: unknown fork option ${JSON.stringify(option)}; known options are ${FORK_OPTIONS.join(', ')}`,
      );
    }
  }
  const desiredRegion = record.desiredRegion ?? null;
  if (desiredRegion !== null && (typeof desiredRegion !== 'string' || desiredRegion === '')) {
    throw new ServiceError('invalid-region', 'desiredRegion must be a non-empty string');
  }

  return {
    streamCapabilities,
    streamTags,
    options: [...new Set(options)] as ForkOption[],
    desiredRegion,
  };
}
