/**
 * Error replies of the API. Every error becomes `{status, message}` with the HTTP code of its
 * status; only unexpected errors are logged, and their text never reaches the client.
 */
import { STATUS_CODES as HTTP_REASONS } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { httpCodeOf, isServiceError, type ServiceError, type Status } from '../domain/errors.ts';
import { describeValidationError } from './validation-errors.ts';

/** Largest request body the API reads, 1 MiB. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/** Longest path parameter the router matches; room and stream ids are far shorter. */
export const MAX_PARAM_LENGTH = 1000;

/** Replies to fastify's own client errors, by fastify error code. */
const FASTIFY_ERROR_REPLIES: Record<
  string,
  (request: FastifyRequest) => { code: number; status: Status; message: string }
> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => ({
    code: 413,
    status: 'payload-too-large',
    message: `body is larger than the limit of ${BODY_LIMIT_BYTES} bytes`,
  }),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: (request) => ({
    code: 415,
    status: 'unsupported-media-type',
    message: `content-type ${JSON.stringify(request.headers['content-type'] ?? '')} is not supported; send application/json`,
  }),
};

export function replyToError(
  error: FastifyError | ServiceError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (isServiceError(error)) {
    return reply.code(error.httpCode).send({ status: error.status, message: error.message });
  }
  if (error.validation !== undefined) {
    const described = describeValidationError(error.validation, error.validationContext);
    return reply.code(400).send(described);
  }
  const known = FASTIFY_ERROR_REPLIES[error.code]?.(request);
  if (known !== undefined) {
    return reply.code(known.code).send({ status: known.status, message: known.message });
  }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    // Other client errors fastify raises: a malformed content-length, an empty JSON body, ...
    return reply.code(400).send({ status: 'invalid-request', message: error.message });
  }
  request.log.error({ err: error }, 'request failed');
  return reply.code(500).send({ status: 'internal-error', message: 'internal error' });
}

/** Replies to errors fastify raises before routing: a malformed URL or an overlong parameter. */
export function replyToFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (error.code === 'FST_ERR_BAD_URL') {
    return reply
      .code(400)
      .send({ status: 'invalid-request', message: 'the URL path is not validly percent-encoded' });
  }
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return reply.code(400).send({
      status: 'invalid-request',
      message: `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`,
    });
  }
  return replyToError(error, request, reply);
}

/**
 * Replies with the API's reply shape to a request that Node's HTTP parser rejected: a malformed
 * request line, headers or body framing, oversize headers, or a client too slow to send them.
 * The connection is closed after it, because the parser cannot find where a next request starts.
 */
export function replyToClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection cannot receive a reply.
  if (error.code === 'ECONNRESET' || socket.destroyed) {
    return;
  }
  let status: Status = 'invalid-request';
  let message = 'the request is not valid HTTP/1.1';
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    status = 'headers-too-large';
    message = 'the request headers are larger than the server accepts';
  } else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 'request-timeout';
    message = 'the request was not received in time';
  }
  const code = httpCodeOf(status);
  const body = JSON.stringify({ status, message });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${code} ${HTTP_REASONS[code] ?? ''}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
