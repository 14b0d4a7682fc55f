/**
 * Control API routes that only a node with the mediasoup engine serves, under `/mediasoup/`.
 * They send a stream's RTP to a UDP address, read media counters and Worker facts, and close
 * mediasoup objects as faults, so that tests and drills see how the engine reacts. Replies follow
 * the rest of the control API: `{status: 'ok', ...}`, or `{status, message}` through the agent's
 * error handler.
 */
import { isIP } from 'node:net';

import type { FastifyInstance } from 'fastify';

import { ServiceError } from '../domain/errors.ts';
import { MAX_STREAM_ID_LENGTH } from './agent-routes.ts';
import type { MediasoupEngine } from './mediasoup-engine.ts';

export const mediasoupPaths = {
  worker: () => '/mediasoup/worker',
  stats: (streamId: string) => `/mediasoup/streams/${encodeURIComponent(streamId)}/stats`,
  rtpEgress: (streamId: string) => `/mediasoup/streams/${encodeURIComponent(streamId)}/rtp-egress`,
  closeProducerFault: (streamId: string) =>
    `/mediasoup/faults/close-producer/${encodeURIComponent(streamId)}`,
  closePipeTransportFault: (streamId: string) =>
    `/mediasoup/faults/close-pipe-transport/${encodeURIComponent(streamId)}`,
} as const;

/** `POST /mediasoup/streams/:streamId/rtp-egress`: where to send the stream's RTP and RTCP. */
export interface RtpEgressBody {
  ip: string;
  port: number;
}

type StreamParams = { Params: { streamId: string } };

/**
 * Registers the routes on the agent's server, after the agent's own routes so that their error
 * handler applies.
 */
export function registerMediasoupRoutes(app: FastifyInstance, engine: MediasoupEngine): void {
  app.get('/mediasoup/worker', async () => ({ status: 'ok', ...(await engine.workerInfo()) }));

  app.get<StreamParams>('/mediasoup/streams/:streamId/stats', async (request) => {
    const streamId = readStreamId(request.params.streamId);
    return { status: 'ok', stats: await engine.mediaStats(streamId) };
  });

  // NOTE: this sends RTP to any address in the request, because the control API trusts its
  // callers. Expose the control API only to the service and the other agents.
  app.post<StreamParams>('/mediasoup/streams/:streamId/rtp-egress', async (request) => {
    const streamId = readStreamId(request.params.streamId);
    const target = readEgressBody(request.body);
    return { status: 'ok', egress: await engine.createRtpEgress(streamId, target) };
  });

  app.post<StreamParams>('/mediasoup/faults/close-producer/:streamId', async (request) => {
    const streamId = readStreamId(request.params.streamId);
    return { status: 'ok', stream: engine.closeProducer(streamId) };
  });

  app.post<StreamParams>('/mediasoup/faults/close-pipe-transport/:streamId', async (request) => {
    const streamId = readStreamId(request.params.streamId);
    return { status: 'ok', stream: engine.closePipeTransport(streamId) };
  });
}

function readStreamId(value: string): string {
  if (value.length === 0 || value.length > MAX_STREAM_ID_LENGTH) {
    throw new ServiceError(
      'invalid-stream-id',
      `streamId must be 1 to ${MAX_STREAM_ID_LENGTH} characters, got ${value.length}`,
    );
  }
  return value;
}

function readEgressBody(body: unknown): RtpEgressBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ServiceError('invalid-request', 'request body must be a JSON object');
  }
  const { ip, port } = body as Record<string, unknown>;
  if (typeof ip !== 'string' || isIP(ip) === 0) {
    throw new ServiceError(
      'invalid-request',
      `ip must be an IP address, got ${JSON.stringify(ip)}`,
    );
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new ServiceError(
      'invalid-request',
      `port must be an integer from 1 to 65535, got ${JSON.stringify(port)}`,
    );
  }
  return { ip, port };
}
