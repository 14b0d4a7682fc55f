/**
 * The only body parser of the API: JSON, with keys that could reach an object's prototype
 * rejected rather than sanitized. Other content types get 415 from fastify.
 */
import type { FastifyInstance } from 'fastify';
import { ServiceError } from '../domain/errors.ts';

/** Keys whose assignment elsewhere in the code could change a prototype. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function registerJsonParser(app: FastifyInstance, bodyLimit: number): void {
  // fastify also parses text/plain by default; no route takes text.
  app.removeContentTypeParser('text/plain');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit },
    (_request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text.trim() === '') {
        done(null, undefined);
        return;
      }
      try {
        done(null, JSON.parse(text, rejectPrototypeKeys));
      } catch (error) {
        const message =
          error instanceof ServiceError
            ? error.message
            : `body is not valid JSON: ${describe(error)}`;
        done(new ServiceError('invalid-request', message, { cause: error }), undefined);
      }
    },
  );
}

function rejectPrototypeKeys(key: string, value: unknown): unknown {
  if (PROTOTYPE_KEYS.has(key)) {
    throw new ServiceError('invalid-request', `body key ${JSON.stringify(key)} is not allowed`);
  }
  return value;
}

function describe(error: unknown): string {
  return error instanceof SyntaxError ? error.message : 'parse failed';
}
