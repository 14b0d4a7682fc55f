/**
 * Avro codec for bus messages, in Avro single-object encoding: the two marker bytes C3 01, the
 * 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema, then the binary body. A
 * reader finds the writer schema by fingerprint, so a message is self-describing and a schema
 * can evolve: a message written with an older registered schema is resolved to the current one.
 */
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { DecodeError } from '../bus/decode-error.ts';
import { fingerprintBytes } from './fingerprint.ts';
import type {
  ForkEventMessage,
  ForkRequestMessage,
  ForkTrigger,
  MirrorCommand,
  RoomChange,
  StreamLifecycleMessage,
} from './types.ts';

const MARKER = Buffer.from([0xc3, 0x01]);
const HEADER_LENGTH = MARKER.length + 8;

type Resolver = ReturnType<avro.Type['createResolver']>;

interface SchemaEntry {
  type: avro.Type;
  fingerprint: Buffer;
}

function loadSchema(file: string): SchemaEntry {
  const schema = JSON.parse(readFileSync(new URL(file, import.meta.url), 'utf8')) as avro.Schema;
  // Logical types are left as plain longs: epoch ms numbers are what the rest of the code uses.
  const type = avro.Type.forSchema(schema);
  // avsc's `schema()` with default options is the schema's parsing canonical form.
  const fingerprint = fingerprintBytes(JSON.stringify(type.schema()));
  return { type, fingerprint };
}

/** Encodes and decodes one message type; decoding fails with DecodeError, never a raw error. */
export class AvroCodec<T> {
  readonly name: string;
  private readonly current: SchemaEntry;
  private readonly readers = new Map<string, avro.Type | Resolver>();

  constructor(entry: SchemaEntry) {
    this.current = entry;
    this.name = entry.type.name ?? 'anonymous';
    this.readers.set(entry.fingerprint.toString('hex'), entry.type);
  }

  /** Registers an older writer schema, so messages written with it are still read. */
  registerWriterSchema(schema: avro.Schema): void {
    const writer = avro.Type.forSchema(schema);
    const fingerprint = fingerprintBytes(JSON.stringify(writer.schema()));
    this.readers.set(fingerprint.toString('hex'), this.current.type.createResolver(writer));
  }

  encode(value: T): Buffer {
    const body = this.current.type.toBuffer(value);
    return Buffer.concat([MARKER, this.current.fingerprint, body]);
  }

  decode(bytes: Buffer): T {
    if (bytes.length < HEADER_LENGTH || !bytes.subarray(0, 2).equals(MARKER)) {
      throw new DecodeError(`${this.name}: not an Avro single-object message (bad marker)`);
    }
    const fingerprint = bytes.subarray(2, HEADER_LENGTH).toString('hex');
    const reader = this.readers.get(fingerprint);
    if (reader === undefined) {
      throw new DecodeError(`${this.name}: unknown writer schema fingerprint ${fingerprint}`);
    }
    try {
      if (reader instanceof avro.Type) {
        return reader.fromBuffer(bytes.subarray(HEADER_LENGTH)) as T;
      }
      return this.current.type.fromBuffer(bytes.subarray(HEADER_LENGTH), reader) as T;
    } catch (error) {
      throw new DecodeError(`${this.name}: invalid Avro body`, { cause: error });
    }
  }

  /** Checks a value against the schema; returns the paths of invalid fields. */
  invalidPaths(value: unknown): string[] {
    const paths: string[] = [];
    this.current.type.isValid(value, {
      errorHook: (path: string[]) => {
        paths.push(path.join('.') || '(root)');
      },
    });
    return paths;
  }
}

export const codecs = {
  forkRequest: new AvroCodec<ForkRequestMessage>(loadSchema('./fork-request.avsc')),
  mirrorCommand: new AvroCodec<MirrorCommand>(loadSchema('./mirror-command.avsc')),
  forkEvent: new AvroCodec<ForkEventMessage>(loadSchema('./fork-event.avsc')),
  streamLifecycle: new AvroCodec<StreamLifecycleMessage>(loadSchema('./stream-lifecycle.avsc')),
  forkTrigger: new AvroCodec<ForkTrigger>(loadSchema('./fork-trigger.avsc')),
  roomChange: new AvroCodec<RoomChange>(loadSchema('./room-change.avsc')),
};
