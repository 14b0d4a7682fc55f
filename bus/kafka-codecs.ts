/**
 * Registers the ZSTD codec with kafkajs, which ships GZIP only. kafkajs 2.2.4 calls
 * `compress(encoder)` with its protocol Encoder (the bytes are `encoder.buffer`) and
 * `decompress(buffer)` with the compressed record batch payload.
 */
import { compress, decompress } from '@mongodb-js/zstd';
import kafkajs from 'kafkajs';

const { CompressionCodecs, CompressionTypes } = kafkajs;

const zstdCodec = {
  async compress(encoder: { buffer: Buffer }): Promise<Buffer> {
    return compress(encoder.buffer);
  },
  async decompress(buffer: Buffer): Promise<Buffer> {
    return decompress(buffer);
  },
};

/** Makes kafkajs able to produce and fetch ZSTD batches. Safe to call more than once. */
export function registerZstdCodec(): void {
  CompressionCodecs[CompressionTypes.ZSTD] = () => zstdCodec;
}
