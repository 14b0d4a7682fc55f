/**
 * Media parameters of the mediasoup engine: the codecs every Router accepts and the RTP
 * parameters of an origin's Producer. Also the PipeOffer and PipeAnswer with which two nodes
 * connect the ends of a PipeTransport pair.
 */
import { randomInt } from 'node:crypto';
import { isIP } from 'node:net';

import type { types as mediasoupTypes } from 'mediasoup';

import { ServiceError } from '../domain/errors.ts';
import type { PipeAnswer, PipeOffer, RtpIngest } from './engine.ts';

export const ENGINE_NAME = 'mediasoup';

/** Codecs of every Router. Consumers can only use codecs that their Router lists. */
export const ROUTER_MEDIA_CODECS: mediasoupTypes.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48_000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90_000 },
];

/**
 * The codec of an origin's RTP. Opus, because an audio Consumer forwards every packet at once,
 * while a video Consumer waits for a key frame, which only a real encoder produces. 100 is in the
 * dynamic payload type range 96-127 (RFC 3551).
 */
const ORIGIN_CODEC = {
  mimeType: 'audio/opus',
  payloadType: 100,
  clockRate: 48_000,
  channels: 2,
} as const;

/** Returns the Producer parameters of an origin whose publisher sends RTP with `ssrc`. */
export function originRtpParameters(ssrc: number): mediasoupTypes.RtpParameters {
  return { codecs: [{ ...ORIGIN_CODEC }], encodings: [{ ssrc }] };
}

/** Returns the ingest point of an origin whose PlainTransport listens on `ip`:`port`. */
export function originIngest(ip: string, port: number, ssrc: number): RtpIngest {
  return { ip, port, ssrc, ...ORIGIN_CODEC };
}

/** Returns a random SSRC from 1 to 2^32 - 1. Zero is avoided because some stacks treat it as unset. */
export function randomSsrc(): number {
  return randomInt(1, 2 ** 32);
}

/** The address of one PipeTransport end. */
export interface PipeTuple {
  ip: string;
  port: number;
}

/** The upstream node's reply to a mirror: its pipe end and the pipe Consumer's parameters. */
export interface PipeConsumerAnswer extends PipeTuple {
  kind: mediasoupTypes.MediaKind;
  rtpParameters: mediasoupTypes.RtpParameters;
  /** True when the upstream Producer is paused, so the mirror's Producer starts paused too. */
  paused: boolean;
}

export function pipeOffer(tuple: PipeTuple): PipeOffer {
  return { engine: ENGINE_NAME, ...tuple };
}

export function pipeAnswer(answer: PipeConsumerAnswer): PipeAnswer {
  return { engine: ENGINE_NAME, ...answer };
}

/**
 * Reads the offer of a mirror's node. Throws `invalid-request` when it does not come from
 * a mediasoup engine or lacks a valid pipe address, because then no pipe can be connected.
 */
export function parsePipeOffer(offer: PipeOffer): PipeTuple {
  if (offer['engine'] !== ENGINE_NAME) {
    throw new ServiceError(
      'invalid-request',
      `the mirror's node runs engine ${JSON.stringify(offer['engine'])}, but a mediasoup node can only pipe to a mediasoup node`,
    );
  }
  return readTuple(offer, 'invalid-request', 'offer');
}

/**
 * Reads the upstream node's answer for a mirror. Throws `internal-error` for an answer
 * that cannot build a Producer, which means the upstream node runs another engine or version.
 */
export function parsePipeAnswer(answer: PipeAnswer): PipeConsumerAnswer {
  if (answer['engine'] !== ENGINE_NAME) {
    throw new ServiceError(
      'internal-error',
      `the upstream node runs engine ${JSON.stringify(answer['engine'])}, but a mediasoup mirror needs a mediasoup upstream`,
    );
  }
  const tuple = readTuple(answer, 'internal-error', 'answer');
  const kind = answer['kind'];
  if (kind !== 'audio' && kind !== 'video') {
    throw new ServiceError(
      'internal-error',
      `pipe answer kind must be audio or video, got ${JSON.stringify(kind)}`,
    );
  }
  const rtpParameters = answer['rtpParameters'];
  if (
    typeof rtpParameters !== 'object' ||
    rtpParameters === null ||
    !Array.isArray((rtpParameters as { codecs?: unknown }).codecs) ||
    !Array.isArray((rtpParameters as { encodings?: unknown }).encodings)
  ) {
    throw new ServiceError(
      'internal-error',
      'pipe answer rtpParameters must be an object with codecs and encodings arrays',
    );
  }
  const paused = answer['paused'];
  if (typeof paused !== 'boolean') {
    throw new ServiceError('internal-error', 'pipe answer paused must be a boolean');
  }
  return {
    ...tuple,
    kind,
    rtpParameters: rtpParameters as mediasoupTypes.RtpParameters,
    paused,
  };
}

function readTuple(
  message: Record<string, unknown>,
  status: 'invalid-request' | 'internal-error',
  name: string,
): PipeTuple {
  const ip = message['ip'];
  const port = message['port'];
  if (typeof ip !== 'string' || isIP(ip) === 0) {
    throw new ServiceError(
      status,
      `pipe ${name} ip must be an IP address, got ${JSON.stringify(ip)}`,
    );
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new ServiceError(
      status,
      `pipe ${name} port must be an integer from 1 to 65535, got ${JSON.stringify(port)}`,
    );
  }
  return { ip, port };
}
