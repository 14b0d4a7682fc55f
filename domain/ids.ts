import { randomBytes } from 'node:crypto';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random alphanumeric string; rejection sampling keeps every character equally likely. */
export function randomAlphanumeric(length: number): string {
  let result = '';
  while (result.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 is the largest multiple of 62 below 256.
      if (byte < 248 && result.length < length) {
        result += ALPHANUMERIC[byte % 62];
      }
    }
  }
  return result;
}

/** Origin stream ids name their region and node: `<region>#<nodeId>#<16 alphanumerics>`. */
export function originStreamId(region: string, nodeId: string): string {
  return `${region}#${nodeId}#${randomAlphanumeric(16)}`;
}

export function camelCase(name: string): string {
  const words = name
    .normalize('NFKD')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
    .split(' ')
    .filter((word) => word !== '');
  return words
    .map((word, index) =>
      index === 0 ? word.toLowerCase() : word[0]?.toUpperCase() + word.slice(1).toLowerCase(),
    )
    .join('');
}
