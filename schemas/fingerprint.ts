/**
 * CRC-64-AVRO (Rabin) fingerprint, as the Avro specification defines it for single-object
 * encoding: EMPTY = 0xc15d213aa4d7a795 and a 256-entry table built from it.
 */

const EMPTY = 0xc15d213aa4d7a795n;
const MASK = 0xffffffffffffffffn;

const TABLE: bigint[] = Array.from({ length: 256 }, (_, index) => {
  let fp = BigInt(index);
  for (let bit = 0; bit < 8; bit += 1) {
    fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n) & MASK);
  }
  return fp;
});

export function rabinFingerprint(text: string): bigint {
  let fp = EMPTY;
  for (const byte of Buffer.from(text, 'utf8')) {
    const entry = TABLE[Number((fp ^ BigInt(byte)) & 0xffn)] ?? 0n;
    fp = (fp >> 8n) ^ entry;
  }
  return fp;
}

/** Returns the fingerprint as the 8 little-endian bytes that follow the single-object marker. */
export function fingerprintBytes(text: string): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(rabinFingerprint(text));
  return bytes;
}
