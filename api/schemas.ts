/** JSON schemas shared by the routes; they validate requests and make the OpenAPI document. */

export type JsonSchema = Record<string, unknown>;

export const ROOM_ID_SCHEMA = {
  type: 'string',
  pattern: '^[^#]+#[^#]+#.*$',
  maxLength: 512,
  description: 'a room id of the form <region>#<applicationId>#<name>',
} as const;

export const ROOM_ID_PATTERN = new RegExp(ROOM_ID_SCHEMA.pattern);

/** Array of at most `maxItems` strings, each non-empty unless `allowEmpty`. */
export function stringArraySchema(maxItems: number, maxLength = 256): JsonSchema {
  return { type: 'array', maxItems, items: { type: 'string', minLength: 1, maxLength } };
}

/** A query string that takes only the listed parameters, each a string. */
export function querySchema(properties: Record<string, JsonSchema>): JsonSchema {
  return { type: 'object', additionalProperties: false, properties };
}
