/**
 * One JSON request to a media node's control API, with a timeout. Used by agents to reach each
 * other and by MediaCluster to reach agents.
 */
import { ServiceError } from '../domain/errors.ts';

export const DEFAULT_CONTROL_TIMEOUT_MS = 5_000;

export interface ControlRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Base URL of the node's control API, such as `http://127.0.0.1:4100`. */
  baseUrl: string;
  /** Path with encoded segments, from `controlPaths`. */
  path: string;
  body?: unknown;
  timeoutMs: number;
  /** Names the node in error messages, such as `media node us-east-1 (http://...)`. */
  target: string;
}

/** A parsed reply. `body.status` is `ok` or an error status, whatever the HTTP code. */
export interface ControlReply {
  httpStatus: number;
  body: { status: string; message?: string } & Record<string, unknown>;
}

/**
 * Sends the request and parses the reply. Throws a ServiceError when no usable reply arrives:
 * `timeout` after `timeoutMs` and `capacity` (retryable) when the node cannot be reached. A reply
 * that is not a JSON object with a string `status` is `internal-error`, except with HTTP 503,
 * which a closing agent sends: that is `capacity`.
 */
export async function sendControlRequest(request: ControlRequest): Promise<ControlReply> {
  // Joined as strings so a base URL with a path prefix keeps it.
  const url = new URL(request.baseUrl.replace(/\/+$/, '') + request.path);
  const init: RequestInit = {
    method: request.method,
    signal: AbortSignal.timeout(request.timeoutMs),
  };
  if (request.body !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(request.body);
  }

  let httpStatus: number;
  let text: string;
  try {
    const response = await fetch(url, init);
    httpStatus = response.status;
    text = await response.text();
  } catch (error) {
    throw unreachableError(request, error);
  }

  const body = parseJson(text);
  if (isStatusBody(body)) {
    return { httpStatus, body };
  }
  if (httpStatus === 503) {
    // Fastify replies 503 with its own body while the agent's server is closing.
    throw new ServiceError(
      'capacity',
      `${request.target} is unavailable (HTTP 503) for ${request.method} ${request.path}`,
    );
  }
  throw new ServiceError(
    'internal-error',
    `${request.target} returned HTTP ${httpStatus} without a JSON status body for ${request.method} ${request.path}`,
  );
}

function unreachableError(request: ControlRequest, error: unknown): ServiceError {
  const where = `${request.method} ${request.path}`;
  if (error instanceof Error && error.name === 'TimeoutError') {
    return new ServiceError(
      'timeout',
      `${request.target} did not reply within ${request.timeoutMs} ms to ${where}`,
      { cause: error },
    );
  }
  return new ServiceError(
    'capacity',
    `${request.target} is unreachable for ${where}: ${describeCause(error)}`,
    { cause: error },
  );
}

/** Names the network error, which Node's fetch wraps as `TypeError: fetch failed` with a cause. */
function describeCause(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  const cause: unknown = error.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code === undefined ? cause.message : `${code} ${cause.message}`;
  }
  return error.message;
}

/** Returns the parsed value, or undefined for text that is not JSON (checked by the caller). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isStatusBody(body: unknown): body is ControlReply['body'] {
  return (
    typeof body === 'object' &&
    body !== null &&
    !Array.isArray(body) &&
    typeof (body as { status?: unknown }).status === 'string'
  );
}
