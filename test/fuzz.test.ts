/**
 * Sends thousands of generated malformed requests to the service on Kafka and the MongoDB wire
 * server: bodies with wrong types, unknown and prototype keys, truncated or binary JSON, bad
 * paths and ids, bad credentials and content types. Every request is built to be invalid, so
 * every reply must be a 4xx and the store must be unchanged afterwards.
 *
 * The run is seeded: set FUZZ_SEED to replay a failure; the seed in use is printed.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { httpCodeOf, isStatus } from '../domain/errors.ts';
import { PcastClient, streamIdOf } from './support/pcast.ts';
import { APP, OTHER_APP, startTestService, type TestService } from './support/service.ts';
import { snapshotStore } from './support/store-snapshot.ts';

const CASES = 2_400;
const CONCURRENCY = 8;
const SEED = Number(process.env.FUZZ_SEED) || Math.floor(Math.random() * 2 ** 31);

/** mulberry32: a small seeded PRNG with a full 2^32 period, good enough to pick test cases. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const random = prng(SEED);
const int = (max: number) => Math.floor(random() * max);
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
const enc = encodeURIComponent;

interface FuzzCase {
  label: string;
  /** Bytes sent as they are on a raw socket instead of an HTTP request. */
  raw?: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

let service: TestService;
/** Ids of records created before the fuzz run, so requests reach real rooms and streams. */
let world: {
  channelId: string;
  roomId: string;
  otherChannelId: string;
  sessionId: string;
  streamId: string;
};

beforeAll(async () => {
  console.log(`fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
  service = await startTestService();
  const client = new PcastClient(service);
  const source = await client.sourceWith(2, { streams: 1 });
  const destination = await client.createChannel('Fuzz');
  expect((await client.fork(destination.channelId, source.channelId)).code).toBe(200);
  const room = await service.call('PUT', '/pcast/room', {
    room: { name: `Fuzz room ${Date.now()}`, type: 'TownHall' },
  });
  const other = await service.call(
    'PUT',
    '/pcast/channel',
    { channel: { name: `Fuzz other ${Date.now()}` } },
    OTHER_APP,
  );
  const [member] = await client.members(source.channelId);
  world = {
    channelId: destination.channelId,
    roomId: room.body.room.roomId,
    otherChannelId: other.body.channel.channelId,
    sessionId: member?.sessionId ?? '',
    streamId: streamIdOf(member?.streams[0]?.uri ?? ''),
  };
}, 120_000);

afterAll(async () => {
  await service?.stop();
});

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** Valid bodies of each route that takes one; the mutations below make each one invalid. */
function templates() {
  const kind = pick(['room', 'channel'] as const);
  const target = kind === 'room' ? pick([world.roomId, world.channelId]) : world.channelId;
  const roomPath = (rest: string) => `/pcast/${kind}/${enc(target)}${rest}`;
  return [
    {
      method: 'PUT',
      path: '/pcast/room',
      body: { room: { name: 'Fuzzed', type: 'TownHall', description: 'd', options: ['a'] } },
      required: [['room'], ['room', 'type']],
    },
    {
      method: 'PUT',
      path: '/pcast/channel',
      body: { channel: { name: 'Fuzzed', alias: 'fuzzed', options: [] } },
      required: [['channel']],
    },
    {
      method: 'PUT',
      path: roomPath('/members'),
      body: {
        member: {
          sessionId: 'fuzz-member',
          screenName: 'f',
          role: 'Participant',
          state: 'Active',
          streams: [{ uri: 'pcast://h/s', type: 'User', audioState: 'a', videoState: 'v' }],
        },
        options: ['reenter'],
      },
      required: [
        ['member'],
        ['member', 'sessionId'],
        ['member', 'screenName'],
        ['member', 'role'],
        ['member', 'state'],
        ['member', 'streams', 0, 'uri'],
      ],
    },
    {
      method: 'PUT',
      path: roomPath(`/fork/${enc(pick([world.roomId, world.channelId]))}`),
      body: {
        streamCapabilities: ['hd'],
        streamTags: ['t'],
        options: ['additive'],
        desiredRegion: 'us-east',
      },
      required: [],
    },
    {
      method: 'PUT',
      path: roomPath('/kill'),
      body: { reason: 'fuzz', options: ['keep-streams'] },
      required: [['reason']],
    },
    {
      method: 'PUT',
      path: '/pcast/stream',
      body: { sessionId: 'fuzz', capabilities: ['hd'], region: 'us-east' },
      required: [['sessionId']],
    },
    {
      method: 'DELETE',
      path: `/pcast/stream/${enc(world.streamId)}`,
      body: { reason: 'fuzz' },
      required: [],
    },
  ];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Paths of every object in the value, for inserting keys, and of every field, for replacing. */
function walk(value: Json, path: (string | number)[] = []) {
  const objects: (string | number)[][] = [];
  const fields: (string | number)[][] = [];
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      fields.push([...path, index]);
      const inner = walk(item, [...path, index]);
      objects.push(...inner.objects);
      fields.push(...inner.fields);
    });
  } else if (value !== null && typeof value === 'object') {
    objects.push(path);
    for (const [key, item] of Object.entries(value)) {
      fields.push([...path, key]);
      const inner = walk(item, [...path, key]);
      objects.push(...inner.objects);
      fields.push(...inner.fields);
    }
  }
  return { objects, fields };
}

function at(value: Json, path: (string | number)[]): any {
  return path.reduce<any>((current, key) => current?.[key], value);
}

/** Returns a value of another JSON type than `current`, so a typed field always fails validation. */
function wrongType(current: Json): Json {
  const candidates: Json[] = [42, 1.5, true, null, [], {}, 'text', [1, 2], { nested: 'x' }];
  const typeOf = (value: Json) =>
    value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return pick(candidates.filter((candidate) => typeOf(candidate) !== typeOf(current)));
}

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'];

/**
 * Fields whose schema is an enum: a member's role and state, a room's type, and the items of a
 * top-level `options` list. A member stream's `type` and a room's options are free strings.
 */
function isEnumField(path: (string | number)[]): boolean {
  const key = path[path.length - 1];
  const parent = path[path.length - 2];
  if (key === 'role' || key === 'state') {
    return parent === 'member';
  }
  if (key === 'type') {
    return parent === 'room';
  }
  return path.length === 2 && parent === 'options';
}

/** Returns an invalid body (as text) built from a valid one, and what was done to it. */
function mutateBody(body: Json, required: (string | number)[][]): { text: string; label: string } {
  const copy = structuredClone(body);
  const { objects, fields } = walk(copy);
  const choice = int(9);
  if (choice === 0) {
    const target = at(copy, pick(objects));
    target[`x${int(1000)}-unknown`] = wrongType('');
    return { text: JSON.stringify(copy), label: 'unknown key' };
  }
  if (choice === 1) {
    // JSON.stringify drops a `__proto__` own key, so the key is spliced into the text.
    const key = pick(PROTOTYPE_KEYS);
    at(copy, pick(objects))['__fuzz_marker__'] = 'x';
    const text = JSON.stringify(copy).replace(
      '"__fuzz_marker__":"x"',
      `"${key}":{"polluted":true}`,
    );
    return { text, label: `${key} key` };
  }
  if (choice === 2 && fields.length > 0) {
    const path = pick(fields);
    const parent = at(copy, path.slice(0, -1));
    parent[path[path.length - 1] as string] = wrongType(at(copy, path));
    return { text: JSON.stringify(copy), label: `wrong type at ${path.join('.')}` };
  }
  if (choice === 3 && required.length > 0) {
    const path = pick(required);
    const parent = at(copy, path.slice(0, -1));
    if (Array.isArray(parent)) {
      parent[path[path.length - 1] as number] = {};
    } else {
      delete parent[path[path.length - 1] as string];
    }
    return { text: JSON.stringify(copy), label: `missing ${path.join('.')}` };
  }
  if (choice === 4) {
    const text = JSON.stringify(copy);
    // At least the opening brace and never the closing one: no prefix of this length parses.
    return { text: text.slice(0, 1 + int(text.length - 2)), label: 'truncated JSON' };
  }
  if (choice === 5) {
    // A leading `#` is never valid JSON, whatever the random bytes after it are.
    const bytes = Buffer.from(Array.from({ length: int(200) }, () => int(256)));
    return { text: `#${bytes.toString('latin1')}`, label: 'binary garbage' };
  }
  if (choice === 6) {
    const depth = 1 + int(5000);
    return { text: '['.repeat(depth) + ']'.repeat(depth), label: `nested arrays ${depth}` };
  }
  if (choice === 7) {
    const enums = fields.filter((path) => isEnumField(path) && typeof at(copy, path) === 'string');
    if (enums.length > 0) {
      const path = pick(enums);
      const parent = at(copy, path.slice(0, -1));
      parent[path[path.length - 1] as string] = pick([
        '',
        'bogus',
        'ACTIVE',
        ' Active',
        'x'.repeat(300),
      ]);
      return { text: JSON.stringify(copy), label: `bad value at ${path.join('.')}` };
    }
  }
  // Too many items in every array.
  const arrays = fields.filter((path) => Array.isArray(at(copy, path)));
  if (arrays.length > 0) {
    const path = pick(arrays);
    const parent = at(copy, path.slice(0, -1));
    parent[path[path.length - 1] as string] = Array.from({ length: 200 }, () => 'a');
    return { text: JSON.stringify(copy), label: `long array at ${path.join('.')}` };
  }
  return { text: `${JSON.stringify(copy)},`, label: 'trailing comma' };
}

const BENIGN_HEADERS: Record<string, string>[] = [
  {},
  { accept: 'text/html' },
  { 'x-forwarded-for': '300.1.2.3, ::ffff' },
  { 'accept-encoding': 'gzip, br' },
  { 'user-agent': '\u00ff'.repeat(10) },
  { 'x-request-id': `fuzz-${int(1e6)}` },
];

function authHeader(): Record<string, string> {
  return { authorization: basic(APP.id, APP.secret) };
}

function bodyCase(): FuzzCase {
  const template = pick(templates());
  const { text, label } = mutateBody(template.body as unknown as Json, template.required);
  return {
    label: `body ${template.method} ${template.path}: ${label}`,
    method: template.method,
    path: template.path,
    headers: { ...authHeader(), 'content-type': 'application/json', ...pick(BENIGN_HEADERS) },
    body: Buffer.from(text, 'latin1'),
  };
}

function contentTypeCase(): FuzzCase {
  const template = pick(templates());
  const contentType = pick([
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    'application/jsonx',
    'json',
  ]);
  return {
    label: `content-type ${contentType} on ${template.method} ${template.path}`,
    method: template.method,
    path: template.path,
    headers: { ...authHeader(), 'content-type': contentType },
    body: JSON.stringify(template.body),
  };
}

function authCase(): FuzzCase {
  const template = pick(templates());
  const useOther =
    template.path.includes(enc(world.roomId)) || template.path.includes(enc(world.channelId));
  const variants: [string, Record<string, string>][] = [
    ['no credentials', {}],
    ['wrong secret', { authorization: basic(APP.id, `${APP.secret}x`) }],
    ['unknown application', { authorization: basic(`nobody${int(100)}`, 's') }],
    ['empty secret', { authorization: basic(APP.id, '') }],
    ['no colon', { authorization: `Basic ${Buffer.from(APP.id).toString('base64')}` }],
    ['not base64', { authorization: 'Basic ***' }],
    ['scheme only', { authorization: 'Basic' }],
    ['bearer', { authorization: `Bearer ${APP.secret}` }],
    ['huge', { authorization: `Basic ${'QUFB'.repeat(2000)}` }],
  ];
  if (useOther) {
    // Valid credentials of another application, on this application's rooms: 403, no change.
    variants.push(['other application', { authorization: basic(OTHER_APP.id, OTHER_APP.secret) }]);
  }
  const [label, headers] = pick(variants);
  return {
    label: `auth ${label} on ${template.method} ${template.path}`,
    method: template.method,
    path: template.path,
    headers: { ...headers, 'content-type': 'application/json' },
    // The valid body: only the credentials are wrong.
    body: JSON.stringify(template.body),
  };
}

function pathCase(): FuzzCase {
  const badIds = [
    'no-hashes',
    enc('one#hash'),
    enc('#a#b'),
    enc('a##b'),
    '%',
    '%G1',
    '%E0%A4%A',
    '..%2F..%2Fetc',
    'x'.repeat(1100),
    enc('us-east#test-app#') + 'y'.repeat(600),
    enc(`us-east#${APP.id}#missing.${int(1e9)}`),
    '%00',
    enc('\u{1F600}#\u0000#x'),
  ];
  const kind = pick(['room', 'channel']);
  const bad = pick(badIds);
  const real = enc(pick([world.channelId, world.roomId]));
  const shapes: [string, string, string | undefined][] = [
    ['GET', `/pcast/${kind}/${bad}`, undefined],
    ['DELETE', `/pcast/${kind}/${bad}`, undefined],
    ['GET', `/pcast/${kind}/${bad}/members`, undefined],
    ['GET', `/pcast/${kind}/${bad}/streams?role=${pick(['Owner', 'Presenter'])}`, undefined],
    ['DELETE', `/pcast/${kind}/${bad}/members/fuzz-${int(1e6)}`, undefined],
    ['DELETE', `/pcast/${kind}/${real}/members/fuzz-${int(1e6)}`, undefined],
    ['PUT', `/pcast/${kind}/${bad}/kill`, '{"reason":"fuzz"}'],
    ['PUT', `/pcast/${kind}/${real}/fork/${bad}`, '{}'],
    ['PUT', `/pcast/${kind}/${bad}/fork/${real}`, '{}'],
    ['PUT', `/pcast/${kind}/${real}/fork/${real}?wait=${pick(['maybe', '1', ''])}`, '{}'],
    ['DELETE', `/pcast/${kind}/${real}/fork/${bad}`, undefined],
    ['GET', `/pcast/${kind}/${real}/streams?capability=${pick(['rtmp', 'Flash', ''])}`, undefined],
    [
      'GET',
      `/pcast/${kind}/${real}/streams?${pick(['limit=1', 'role=A&role=B', 'state[]=x'])}`,
      undefined,
    ],
    ['GET', `/pcast/${kind}s?type=${pick(['Bogus', 'channel', ''])}`, undefined],
    ['GET', `/pcast/${kind}/${real}/kill`, undefined],
    ['POST', `/pcast/${kind}/${real}/kill`, '{"reason":"fuzz"}'],
    ['PATCH', `/pcast/${kind}/${real}`, '{}'],
    ['GET', `/pcast/stream/${bad}`, undefined],
    ['DELETE', `/pcast/stream/${enc(`us-east#nowhere#${int(1e9)}`)}`, undefined],
    ['GET', `/pcast/fork/${bad}`, undefined],
    ['GET', `/pcast/${pick(['rooms/x', 'channelz', 'room/', 'forks', ''])}`, undefined],
    ['PUT', `/pcast/${kind}/${real}/kill/now`, '{"reason":"fuzz"}'],
  ];
  const [method, path, body] = pick(shapes);
  return {
    label: `path ${method} ${path.slice(0, 120)}`,
    method,
    path,
    headers: {
      ...authHeader(),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...pick(BENIGN_HEADERS),
    },
    body,
  };
}

function oversizeCase(): FuzzCase {
  const template = pick(templates());
  return {
    label: `oversize ${template.method} ${template.path}`,
    method: template.method,
    path: template.path,
    headers: { ...authHeader(), 'content-type': 'application/json' },
    body: Buffer.alloc(1024 * 1024 + 1 + int(1024), 0x20),
  };
}

function nextCase(index: number): FuzzCase {
  // A few oversize bodies only: each one is a megabyte.
  if (index % 400 === 399) {
    return oversizeCase();
  }
  if (index % 50 === 49) {
    const [label, raw] = pick(RAW_REQUESTS);
    return { label: `raw ${label}`, method: '', path: '', headers: {}, raw };
  }
  const roll = random();
  if (roll < 0.55) {
    return bodyCase();
  }
  if (roll < 0.65) {
    return contentTypeCase();
  }
  if (roll < 0.8) {
    return authCase();
  }
  return pathCase();
}

/** Requests that are not valid HTTP/1.1, sent on a raw socket. */
const RAW_REQUESTS: [string, string][] = [
  [
    'content-length with chunked encoding',
    'PUT /pcast/room HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  ],
  ['header name with a space', 'GET /pcast/rooms HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n'],
  ['garbage request line', 'GARBAGE\r\n\r\n'],
  ['negative content-length', 'PUT /pcast/room HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'],
  [
    'two content-lengths',
    'PUT /pcast/room HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}',
  ],
  [
    'oversize headers',
    `GET /pcast/rooms HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(20_000)}\r\n\r\n`,
  ],
  ['unknown HTTP version', 'GET /pcast/rooms HTTP/9.9\r\nHost: x\r\n\r\n'],
];

function sendRaw(bytes: string): Promise<{ code: number; text: string }> {
  const url = new URL(service.url);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: url.hostname, port: Number(url.port) }, () => socket.end(bytes));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const response = Buffer.concat(chunks).toString('utf8');
      const code = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
      resolve({ code, text: response.slice(response.indexOf('\r\n\r\n') + 4) });
    });
  });
}

function send(fuzzCase: FuzzCase): Promise<{ code: number; text: string }> {
  if (fuzzCase.raw !== undefined) {
    return sendRaw(fuzzCase.raw);
  }
  const url = new URL(service.url);
  return new Promise((resolve) => {
    const request = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: fuzzCase.method,
        path: fuzzCase.path,
        // The body is framed by its length for every method. Without the header, node sends a
        // DELETE body unframed, and the server reads it as the start of the next request.
        headers:
          fuzzCase.body === undefined
            ? fuzzCase.headers
            : { ...fuzzCase.headers, 'content-length': String(Buffer.byteLength(fuzzCase.body)) },
        // A connection per request, so one reply that closes its connection affects no other.
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ code: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    // A connection closed without a reply is a finding, not a test error.
    request.on('error', (error) => resolve({ code: 0, text: `no reply: ${error.message}` }));
    request.end(fuzzCase.body);
  });
}

/** Returns what is wrong with the reply, or undefined when it is a proper 4xx. */
function problemWith(reply: { code: number; text: string }): string | undefined {
  if (reply.code < 400 || reply.code >= 500) {
    return `HTTP ${reply.code}: ${reply.text.slice(0, 300)}`;
  }
  let body: { status?: unknown; message?: unknown };
  try {
    body = JSON.parse(reply.text) as typeof body;
  } catch {
    return `HTTP ${reply.code} without a JSON body: ${reply.text.slice(0, 100)}`;
  }
  if (typeof body.status !== 'string' || !isStatus(body.status)) {
    return `HTTP ${reply.code} with status ${JSON.stringify(body.status)}`;
  }
  const expected = httpCodeOf(body.status, reply.code === 403);
  if (expected !== reply.code) {
    return `HTTP ${reply.code} with status ${body.status}, which maps to ${expected}`;
  }
  if (typeof body.message !== 'string' || body.message === '') {
    return `HTTP ${reply.code} without a message`;
  }
  return undefined;
}

describe('fuzz', () => {
  test(`${CASES} malformed requests get 4xx and change nothing`, async () => {
    const before = await snapshotStore(service.mongoDbName);
    const cases = Array.from({ length: CASES }, (_, index) => nextCase(index));
    const failures: string[] = [];
    const codes = new Map<number, number>();

    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const fuzzCase = cases[next++] as FuzzCase;
        const reply = await send(fuzzCase);
        codes.set(reply.code, (codes.get(reply.code) ?? 0) + 1);
        const problem = problemWith(reply);
        if (problem !== undefined) {
          failures.push(`${fuzzCase.label} -> ${problem}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    console.log(
      `fuzz seed ${SEED}: replies by HTTP code ${JSON.stringify(Object.fromEntries(codes))}`,
    );

    expect(failures.slice(0, 20), `seed ${SEED}`).toEqual([]);
    const after = await snapshotStore(service.mongoDbName);
    expect(after, `seed ${SEED}`).toEqual(before);
    expect((await service.call('GET', '/health', undefined, null)).code).toBe(200);
    expect((await service.call('GET', `/pcast/channel/${enc(world.channelId)}`)).code).toBe(200);
  }, 240_000);
});
