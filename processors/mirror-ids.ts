import { createHash } from 'node:crypto';

/**
 * Prefix of every mirror id that a fork plans. Like origin ids (`us-east#node-1#abc`), mirror ids
 * contain `#`, so code that parses a URI carrying one must encode `#` first.
 */
export const MIRROR_ID_PREFIX = 'mirror#';

/**
 * Derives the id of the mirror that a fork creates for one origin stream of one member, so that
 * replanning the same fork names the same mirror and the executor can skip it once it exists.
 * The id is `mirror#` plus the base64url form of the first 16 bytes of a SHA-256 digest over the
 * four values. Each value is prefixed with its UTF-8 byte length, so no two different tuples
 * hash the same input bytes even when the values contain the separator.
 */
export function mirrorStreamId(
  forkId: string,
  destinationRoomId: string,
  sessionId: string,
  originStreamId: string,
): string {
  const input = [forkId, destinationRoomId, sessionId, originStreamId]
    .map((value) => `${Buffer.byteLength(value, 'utf8')}:${value}`)
    .join('');
  const digest = createHash('sha256').update(input, 'utf8').digest();
  return MIRROR_ID_PREFIX + digest.subarray(0, 16).toString('base64url');
}
