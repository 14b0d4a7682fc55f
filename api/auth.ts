/**
 * HTTP Basic authentication against the applications in the store. Secrets are compared in
 * constant time so response timing does not reveal how much of a guess was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServiceError } from '../domain/errors.ts';
import type { Room } from '../domain/types.ts';
import type { Store } from '../store/store.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated application; empty on public routes. */
    applicationId: string;
  }
  interface FastifyContextConfig {
    /** True for routes that need no credentials, such as `/health` and `/metrics`. */
    public?: boolean;
  }
}

export interface Credentials {
  applicationId: string;
  secret: string;
}

/** Longest Authorization header decoded; a longer one is malformed, not a slow comparison. */
const MAX_AUTHORIZATION_LENGTH = 4096;

export function parseBasicAuth(header: string | undefined): Credentials | undefined {
  if (header === undefined || header.length > MAX_AUTHORIZATION_LENGTH) {
    return undefined;
  }
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (match === null || match[1] === undefined) {
    return undefined;
  }
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) {
    return undefined;
  }
  return { applicationId: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

/** Compares digests, which have equal lengths whatever the secrets' lengths are. */
function secretsEqual(given: string, stored: string): boolean {
  const left = createHash('sha256').update(given).digest();
  const right = createHash('sha256').update(stored).digest();
  return timingSafeEqual(left, right);
}

/** Returns the authenticated application id, or throws `unauthorized` (HTTP 401). */
export async function authenticate(request: FastifyRequest, store: Store): Promise<string> {
  const credentials = parseBasicAuth(request.headers.authorization);
  if (credentials === undefined) {
    throw new ServiceError('unauthorized', 'missing or malformed HTTP Basic credentials');
  }
  const application = await store.applications.get(credentials.applicationId);
  // Compare even for an unknown application, so its absence takes as long as a wrong secret.
  const valid = secretsEqual(credentials.secret, application?.secret ?? '\u0000unknown');
  if (application === undefined || !valid) {
    throw new ServiceError('unauthorized', 'invalid application id or secret');
  }
  return application.applicationId;
}

/**
 * Authenticates every request to a route that is not public before its body is parsed, so a
 * caller without credentials learns nothing from validation errors and costs no parsing.
 */
export function registerAuthentication(app: FastifyInstance, store: Store): void {
  app.decorateRequest('applicationId', '');
  app.addHook('onRequest', async (request) => {
    // Unmatched URLs have no route URL; they get the not-found reply without authentication.
    if (request.routeOptions.url === undefined || request.routeOptions.config.public === true) {
      return;
    }
    request.applicationId = await authenticate(request, store);
  });
}

/** Throws `unauthorized` with HTTP 403 when the room belongs to another application. */
export function assertOwner(room: Room, applicationId: string): void {
  if (room.applicationId !== applicationId) {
    throw new ServiceError('unauthorized', `room ${room.roomId} belongs to another application`, {
      forbidden: true,
    });
  }
}
