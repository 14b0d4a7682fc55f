/**
 * Turns a JSON-schema validation failure into the reply of the `/pcast` contract: a status
 * string chosen by the field that failed, and a message that names the field and says what is
 * expected there.
 */
import type { FastifySchemaValidationError } from 'fastify';
import type { Status } from '../domain/errors.ts';

/**
 * Status of a failed field, by its dotted path with array indexes as `*`. The first match wins;
 * a field with no match, and every unknown key, is `invalid-request`.
 */
const FIELD_STATUSES: readonly [RegExp, Status][] = [
  [/^body\.(room|channel)\.name$/, 'name-required'],
  [/^body\.(room|channel)\.type$|^query\.type$/, 'invalid-type'],
  [/(^|\.)options(\.\*)?$/, 'invalid-option'],
  [/(^|\.)role$/, 'invalid-role'],
  [/(^|\.)state$/, 'invalid-state'],
  [/(^|\.)sessionId$/, 'invalid-session-id'],
  [/\.uri$/, 'invalid-uri'],
  [/(^|\.)(region|desiredRegion)$/, 'invalid-region'],
  [/^params\.(roomId|channelId|sourceRoomId)$/, 'invalid-room-id'],
  [/^params\.streamId$/, 'invalid-stream-id'],
  [/^query\.capability$/, 'invalid-capability'],
];

const CONTEXT_NAMES: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'params',
  headers: 'headers',
};

/** An ajv error with the fields that ajv's `verbose` option adds. */
type VerboseError = FastifySchemaValidationError & { data?: unknown; parentSchema?: unknown };

export interface ValidationReply {
  status: Status;
  message: string;
}

export function describeValidationError(
  errors: VerboseError[],
  context: string | undefined,
): ValidationReply {
  const error = errors[0];
  const root = CONTEXT_NAMES[context ?? 'body'] ?? 'request';
  if (error === undefined) {
    return { status: 'invalid-request', message: `${root} is invalid` };
  }
  const segments = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
  const params = error.params as Record<string, unknown>;

  if (error.keyword === 'additionalProperties') {
    const where = [root, ...segments].join('.');
    const known = Object.keys(propertiesOf(error.parentSchema));
    const expected = known.length > 0 ? `; expected only ${known.join(', ')}` : '';
    return {
      status: 'invalid-request',
      message: `${where} has unknown key ${JSON.stringify(params.additionalProperty)}${expected}`,
    };
  }

  if (error.keyword === 'required') {
    segments.push(String(params.missingProperty));
  }
  const field = [root, ...segments].join('.');
  const pattern = [root, ...segments.map((segment) => (/^\d+$/.test(segment) ? '*' : segment))];
  return { status: statusOfField(pattern.join('.')), message: `${field} ${expectation(error)}` };
}

function statusOfField(path: string): Status {
  for (const [pattern, status] of FIELD_STATUSES) {
    if (pattern.test(path)) {
      return status;
    }
  }
  return 'invalid-request';
}

/** What the field must be, with the value's JSON type when the type was wrong. */
function expectation(error: VerboseError): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return 'is required';
    case 'type':
      return `must be of type ${String(params.type)}, got ${jsonType(error.data)}`;
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'pattern': {
      const description = descriptionOf(error.parentSchema);
      const expected = description ?? `a string matching ${String(params.pattern)}`;
      return `must be ${expected}, got ${JSON.stringify(error.data)}`;
    }
    default:
      return error.message ?? 'is invalid';
  }
}

function descriptionOf(schema: unknown): string | undefined {
  if (typeof schema === 'object' && schema !== null && 'description' in schema) {
    return String((schema as { description: unknown }).description);
  }
  return undefined;
}

function propertiesOf(schema: unknown): Record<string, unknown> {
  if (typeof schema === 'object' && schema !== null && 'properties' in schema) {
    return (schema as { properties: Record<string, unknown> }).properties;
  }
  return {};
}

function jsonType(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'array';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? 'integer' : 'number';
  }
  return typeof value;
}
