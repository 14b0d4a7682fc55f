/**
 * A message that cannot be decoded. Retrying cannot help, so consumers send such a message to
 * the topic's dead-letter topic and carry on.
 */
export class DecodeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DecodeError';
  }
}

export function isDecodeError(error: unknown): error is DecodeError {
  return error instanceof DecodeError;
}
