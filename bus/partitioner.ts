/**
 * Key-to-partition mapping of Kafka's Java client default partitioner (and kafkajs 2.x's
 * `Partitioners.DefaultPartitioner`): `toPositive(murmur2(utf8(key))) % partitions`. The in-memory
 * bus uses it too, so a key lands on the same partition number in both adapters.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** 32-bit murmur2 as in `org.apache.kafka.common.utils.Utils.murmur2`, as a signed int. */
export function murmur2(data: Buffer): number {
  const length = data.length;
  let h = SEED ^ length;
  const blocks = Math.floor(length / 4);

  for (let i = 0; i < blocks; i++) {
    let k = data.readInt32LE(i * 4);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }

  const tail = blocks * 4;
  const remaining = length % 4;
  if (remaining === 3) {
    h ^= (data[tail + 2] ?? 0) << 16;
  }
  if (remaining >= 2) {
    h ^= (data[tail + 1] ?? 0) << 8;
  }
  if (remaining >= 1) {
    h ^= data[tail] ?? 0;
    h = Math.imul(h, M);
  }

  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
}
