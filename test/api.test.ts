/**
 * Every route of the REST API against every status its OpenAPI entry documents, through real
 * HTTP. Most rows run on the embedded service. The fork rows and a kill row run on Kafka and the
 * MongoDB wire server, because there the bus carries the work between the API and the executor.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ServiceError, httpCodeOf } from '../domain/errors.ts';
import { PcastClient, streamIdOf } from './support/pcast.ts';
import { APP, OTHER_APP, startTestService, type TestService } from './support/service.ts';

type Kind = 'room' | 'channel';
type Reply = { code: number; body: any };

interface Row {
  /** `METHOD /path` as in the OpenAPI document, such as `PUT /pcast/room/{roomId}/kill`. */
  route: string;
  status: string;
  /** HTTP code when it is not the one the status maps to (403 for `unauthorized`). */
  code?: number;
  /** Which service runs the row: the embedded one unless `kafka` or `slow`. */
  on?: 'embedded' | 'kafka' | 'slow';
  send: (service: TestService) => Promise<Reply>;
}

/** A slow media node makes forks and kills outlive this service's fork timeout. */
const SLOW_TIMEOUT_MS = 300;

let embedded: TestService;
let kafka: TestService;
let slow: TestService;
const services = () => ({ embedded, kafka, slow });

beforeAll(async () => {
  [embedded, kafka, slow] = await Promise.all([
    startTestService({ embedded: true }),
    startTestService(),
    startTestService({ embedded: true, env: { FORK_TIMEOUT_MS: String(SLOW_TIMEOUT_MS) } }),
  ]);
  delayMedia(slow, SLOW_TIMEOUT_MS * 3);
});

afterAll(async () => {
  await Promise.all([embedded?.stop(), kafka?.stop(), slow?.stop()]);
});

/** Makes every mirror creation and destroy of the service's media nodes wait `delayMs` first. */
function delayMedia(service: TestService, delayMs: number): void {
  const { media } = service;
  const createMirror = media.createMirror.bind(media);
  const destroy = media.destroy.bind(media);
  const pause = () => new Promise((resolve) => setTimeout(resolve, delayMs));
  media.createMirror = async (...args) => {
    await pause();
    return createMirror(...args);
  };
  media.destroy = async (...args) => {
    await pause();
    return destroy(...args);
  };
}

let unique = 0;
const name = (prefix: string) => `${prefix} ${++unique} ${Date.now()}`;
const enc = encodeURIComponent;
const MISSING_ROOM = 'us-east#test-app#missing.AAAAAAAAAAAA';

function path(kind: Kind, roomId: string, rest = ''): string {
  return `/pcast/${kind}/${enc(roomId)}${rest}`;
}

async function channel(service: TestService): Promise<string> {
  const reply = await service.call('PUT', '/pcast/channel', { channel: { name: name('Table') } });
  expect(reply.code).toBe(200);
  return reply.body.channel.channelId;
}

/** Creates a channel with one Presenter member carrying `streams` published streams. */
async function populated(service: TestService, streams = 1) {
  const client = new PcastClient(service);
  const roomId = await channel(service);
  const sessionId = `session-${++unique}`;
  const uris: string[] = [];
  for (let index = 0; index < streams; index += 1) {
    uris.push(await client.publish(sessionId));
  }
  await client.join(roomId, sessionId, uris);
  return { roomId, sessionId, uris };
}

function member(sessionId: string, fields: Record<string, unknown> = {}) {
  return { sessionId, screenName: sessionId, role: 'Presenter', state: 'Active', ...fields };
}

/** Sends a body as raw bytes, with the content type given. */
async function raw(
  service: TestService,
  method: string,
  url: string,
  body: string | Buffer,
  contentType = 'application/json',
): Promise<Reply> {
  const response = await fetch(service.url + url, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`${APP.id}:${APP.secret}`).toString('base64')}`,
      'content-type': contentType,
    },
    body,
  });
  const text = await response.text();
  return { code: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

const OVERSIZE = JSON.stringify({ padding: 'x'.repeat(1024 * 1024 + 1) });

/** Room routes: `/pcast/{kind}/{id}` plus this suffix, with a body when the method takes one. */
interface RoomRoute {
  method: 'GET' | 'PUT' | 'DELETE';
  suffix: string;
  /** Path after the room id for a request, filling suffix parameters. */
  rest?: string;
  body?: unknown;
  /** True when the route takes query parameters, so an unknown one is invalid-request. */
  query?: boolean;
}

const ROOM_ROUTES: RoomRoute[] = [
  { method: 'GET', suffix: '' },
  { method: 'DELETE', suffix: '' },
  { method: 'GET', suffix: '/members' },
  { method: 'PUT', suffix: '/members', body: { member: member('generic') } },
  { method: 'DELETE', suffix: '/members/{sessionId}', rest: '/members/generic' },
  { method: 'GET', suffix: '/streams', query: true },
  {
    method: 'PUT',
    suffix: '/fork/{sourceRoomId}',
    rest: `/fork/${enc(MISSING_ROOM)}`,
    body: {},
  },
  { method: 'PUT', suffix: '/kill', body: { reason: 'table' } },
  { method: 'DELETE', suffix: '/fork/{sourceRoomId}', rest: `/fork/${enc(MISSING_ROOM)}` },
];

function routeName(kind: Kind, route: RoomRoute): string {
  const id = kind === 'channel' ? '{channelId}' : '{roomId}';
  return `${route.method} /pcast/${kind}/${id}${route.suffix}`;
}

const rows: Row[] = [];

// Rows every room route has, in both forms.
for (const kind of ['room', 'channel'] as const) {
  for (const route of ROOM_ROUTES) {
    const routeKey = routeName(kind, route);
    const rest = route.rest ?? route.suffix;
    const on = route.suffix.startsWith('/fork') ? 'kafka' : 'embedded';
    rows.push(
      {
        route: routeKey,
        status: 'invalid-room-id',
        on,
        send: (service) =>
          service.call(route.method, `/pcast/${kind}/not-a-room-id${rest}`, route.body),
      },
      {
        route: routeKey,
        status: 'not-found',
        on,
        send: async (service) => {
          if (route.suffix.startsWith('/fork')) {
            // The destination exists; the source does not.
            const roomId = await channel(service);
            return service.call(route.method, path(kind, roomId, rest), route.body);
          }
          return service.call(route.method, path(kind, MISSING_ROOM, rest), route.body);
        },
      },
      {
        route: routeKey,
        status: 'unauthorized',
        on,
        send: async (service) =>
          service.call(route.method, path(kind, await channel(service), rest), route.body, null),
      },
      {
        route: routeKey,
        status: 'unauthorized',
        code: 403,
        on,
        send: async (service) => {
          const roomId = await channel(service);
          const target = route.suffix.startsWith('/fork') ? `/fork/${enc(roomId)}` : rest;
          return service.call(route.method, path(kind, roomId, target), route.body, OTHER_APP);
        },
      },
    );
    if (route.body !== undefined) {
      rows.push(
        {
          route: routeKey,
          status: 'invalid-request',
          on,
          send: async (service) =>
            raw(service, route.method, path(kind, await channel(service), rest), '{"unknown":'),
        },
        {
          route: routeKey,
          status: 'payload-too-large',
          on,
          send: (service) => raw(service, route.method, path(kind, MISSING_ROOM, rest), OVERSIZE),
        },
        {
          route: routeKey,
          status: 'unsupported-media-type',
          on,
          send: (service) =>
            raw(service, route.method, path(kind, MISSING_ROOM, rest), 'text', 'text/plain'),
        },
      );
    }
    if (route.query === true) {
      rows.push({
        route: routeKey,
        status: 'invalid-request',
        on,
        send: (service) =>
          service.call(route.method, path(kind, MISSING_ROOM, `${rest}?unknown=1`)),
      });
    }
  }

  const base = (suffix: string) =>
    `${kind === 'channel' ? 'channel' : 'room'}/${kind === 'channel' ? '{channelId}' : '{roomId}'}${suffix}`;
  const route = (method: string, suffix: string) => `${method} /pcast/${base(suffix)}`;

  rows.push(
    {
      route: route('GET', ''),
      status: 'ok',
      send: async (service) => {
        const { roomId } = await populated(service);
        const reply = await service.call('GET', path(kind, roomId));
        expect(reply.body[kind].estimatedSize).toBe(1);
        return reply;
      },
    },
    {
      route: route('DELETE', ''),
      status: 'ok',
      send: async (service) => {
        const { roomId, sessionId, uris } = await populated(service);
        const reply = await service.call('DELETE', path(kind, roomId));
        expect(reply.body.killedMembers).toEqual([sessionId]);
        expect((await service.call('GET', path(kind, roomId))).code).toBe(404);
        const stream = await new PcastClient(service).stream(streamIdOf(uris[0] ?? ''));
        expect(stream.endReason).toBe('room-deleted');
        return reply;
      },
    },
    {
      route: route('DELETE', ''),
      status: 'timeout',
      on: 'slow',
      send: async (service) =>
        service.call('DELETE', path(kind, (await populated(service)).roomId)),
    },
    {
      route: route('GET', '/members'),
      status: 'ok',
      send: async (service) =>
        service.call('GET', path(kind, (await populated(service)).roomId, '/members')),
    },
    {
      route: route('PUT', '/members'),
      status: 'ok',
      send: async (service) =>
        service.call('PUT', path(kind, await channel(service), '/members'), {
          member: member('a'),
        }),
    },
    {
      route: route('PUT', '/members'),
      status: 'already-exists',
      send: async (service) => {
        const { roomId, sessionId } = await populated(service);
        return service.call('PUT', path(kind, roomId, '/members'), { member: member(sessionId) });
      },
    },
    ...(
      [
        ['invalid-session-id', { member: member('') }],
        ['invalid-role', { member: member('a', { role: 'Owner' }) }],
        ['invalid-state', { member: member('a', { state: 'Asleep' }) }],
        ['invalid-uri', { member: member('a', { streams: [{ uri: 'not a uri' }] }) }],
        ['invalid-option', { member: member('a'), options: ['sideways'] }],
      ] as const
    ).map(([status, body]): Row => ({
      route: route('PUT', '/members'),
      status,
      send: async (service) =>
        service.call('PUT', path(kind, await channel(service), '/members'), body),
    })),
    {
      route: route('DELETE', '/members/{sessionId}'),
      status: 'ok',
      send: async (service) => {
        const { roomId, sessionId } = await populated(service);
        return service.call('DELETE', path(kind, roomId, `/members/${enc(sessionId)}`));
      },
    },
    {
      route: route('DELETE', '/members/{sessionId}'),
      status: 'invalid-session-id',
      send: async (service) =>
        service.call('DELETE', path(kind, await channel(service), `/members/${'s'.repeat(300)}`)),
    },
    {
      route: route('GET', '/streams'),
      status: 'ok',
      send: async (service) => {
        const { roomId, uris } = await populated(service, 2);
        const reply = await service.call('GET', path(kind, roomId, '/streams'));
        expect(reply.body.streamIds).toEqual(uris.map(streamIdOf));
        return reply;
      },
    },
    ...(
      [
        ['invalid-role', '?role=Owner'],
        ['invalid-state', '?state=Asleep'],
        ['invalid-capability', '?capability=SMTP'],
      ] as const
    ).map(([status, query]): Row => ({
      route: route('GET', '/streams'),
      status,
      send: async (service) =>
        service.call('GET', path(kind, await channel(service), `/streams${query}`)),
    })),
    {
      route: route('PUT', '/kill'),
      status: 'ok',
      on: 'kafka',
      send: async (service) => {
        const { roomId, sessionId } = await populated(service);
        const reply = await service.call('PUT', path(kind, roomId, '/kill'), { reason: 'table' });
        expect(reply.body.killedMembers).toEqual([sessionId]);
        return reply;
      },
    },
    {
      route: route('PUT', '/kill'),
      status: 'invalid-option',
      send: async (service) =>
        service.call('PUT', path(kind, await channel(service), '/kill'), {
          reason: 'table',
          options: ['gently'],
        }),
    },
    {
      route: route('PUT', '/kill'),
      status: 'capacity',
      send: async (service) => {
        const { roomId } = await populated(service);
        const { media } = service;
        const destroy = media.destroy;
        media.destroy = async () => {
          throw new ServiceError('capacity', 'media node is unreachable (injected)');
        };
        try {
          return await service.call('PUT', path(kind, roomId, '/kill'), {
            reason: 'table',
            options: ['destroy-required'],
          });
        } finally {
          media.destroy = destroy;
        }
      },
    },
    {
      route: route('PUT', '/kill'),
      status: 'timeout',
      on: 'slow',
      send: async (service) =>
        service.call('PUT', path(kind, (await populated(service)).roomId, '/kill'), {
          reason: 'slow',
        }),
    },
  );

  // Fork rows, on Kafka and the MongoDB wire server.
  const fork = (status: string, send: Row['send'], on: Row['on'] = 'kafka'): Row => ({
    route: route('PUT', '/fork/{sourceRoomId}'),
    status,
    on,
    send,
  });
  const forkInto = async (service: TestService, source: string, body: object, query = '') => {
    const destination = await channel(service);
    return service.call('PUT', path(kind, destination, `/fork/${enc(source)}${query}`), body);
  };
  rows.push(
    fork('ok', async (service) => {
      const { roomId, sessionId } = await populated(service);
      const reply = await forkInto(service, roomId, { streamCapabilities: ['hd'] });
      expect(reply.body.members.map((m: any) => m.sessionId)).toEqual([sessionId]);
      return reply;
    }),
    fork('accepted', async (service) =>
      forkInto(service, (await populated(service)).roomId, {}, '?wait=false'),
    ),
    fork('invalid-room-id', async (service) =>
      service.call('PUT', path(kind, await channel(service), '/fork/not-a-room-id'), {}),
    ),
    fork('invalid-option', async (service) => forkInto(service, MISSING_ROOM, { options: ['x'] })),
    fork('invalid-region', async (service) =>
      forkInto(service, MISSING_ROOM, { desiredRegion: '' }),
    ),
    fork('origin-stream-ended', async (service) => {
      const { roomId, uris } = await populated(service);
      await new PcastClient(service).endStream(streamIdOf(uris[0] ?? ''));
      return forkInto(service, roomId, {});
    }),
    fork('capacity', async (service) => {
      const { roomId } = await populated(service);
      return forkInto(service, roomId, { desiredRegion: 'mars' });
    }),
    fork('origin-not-found', async (service) => {
      const roomId = await channel(service);
      await service.call('PUT', path('channel', roomId, '/members'), {
        member: member('ghost', { streams: [{ uri: 'pcast://pcast.local/us-east#nowhere#0000' }] }),
      });
      return forkInto(service, roomId, {});
    }),
    {
      route: route('DELETE', '/fork/{sourceRoomId}'),
      status: 'ok',
      send: async (service) => {
        const { roomId } = await populated(service);
        const destination = await channel(service);
        const followed = await service.call(
          'PUT',
          path(kind, destination, `/fork/${enc(roomId)}`),
          { options: ['follow'] },
        );
        expect(followed.code).toBe(200);
        return service.call('DELETE', path(kind, destination, `/fork/${enc(roomId)}`));
      },
    },
    fork(
      'timeout',
      async (service) => forkInto(service, (await populated(service)).roomId, {}),
      'slow',
    ),
  );
}

// Routes outside `/pcast/{kind}/{id}`.
rows.push(
  ...(['room', 'channel'] as const).flatMap((kind): Row[] => {
    const create = `PUT /pcast/${kind}`;
    const list = `GET /pcast/${kind}s`;
    const fields = kind === 'room' ? { type: 'MultiPartyChat' } : {};
    return [
      {
        route: create,
        status: 'ok',
        send: (service) =>
          service.call('PUT', `/pcast/${kind}`, { [kind]: { name: name('Ok'), ...fields } }),
      },
      {
        route: create,
        status: 'already-exists',
        send: async (service) => {
          const body = { [kind]: { name: name('Twice'), ...fields } };
          await service.call('PUT', `/pcast/${kind}`, body);
          const reply = await service.call('PUT', `/pcast/${kind}`, body);
          expect(reply.body[kind].name).toBe(body[kind]?.name);
          return reply;
        },
      },
      {
        route: create,
        status: 'type-conflict',
        send: async (service) => {
          const alias = `alias${++unique}`;
          const other = kind === 'room' ? 'channel' : 'room';
          const otherFields = other === 'room' ? { type: 'TownHall' } : {};
          await service.call('PUT', `/pcast/${other}`, {
            [other]: { name: 'First', alias, ...otherFields },
          });
          return service.call('PUT', `/pcast/${kind}`, {
            [kind]: { name: 'Second', alias, ...fields },
          });
        },
      },
      {
        route: create,
        status: 'name-required',
        send: (service) =>
          service.call('PUT', `/pcast/${kind}`, { [kind]: { name: '  ', ...fields } }),
      },
      {
        route: create,
        status: 'invalid-option',
        send: (service) =>
          service.call('PUT', `/pcast/${kind}`, {
            [kind]: { name: name('Opt'), options: [''], ...fields },
          }),
      },
      {
        route: create,
        status: 'invalid-request',
        send: (service) =>
          service.call('PUT', `/pcast/${kind}`, { [kind]: { name: 'x' }, extra: true }),
      },
      {
        route: create,
        status: 'payload-too-large',
        send: (service) => raw(service, 'PUT', `/pcast/${kind}`, OVERSIZE),
      },
      {
        route: create,
        status: 'unsupported-media-type',
        send: (service) =>
          raw(service, 'PUT', `/pcast/${kind}`, 'name=x', 'application/x-www-form-urlencoded'),
      },
      {
        route: create,
        status: 'unauthorized',
        send: (service) => service.call('PUT', `/pcast/${kind}`, { [kind]: { name: 'x' } }, null),
      },
      {
        route: list,
        status: 'ok',
        send: (service) => service.call('GET', `/pcast/${kind}s`),
      },
      {
        route: list,
        status: 'invalid-type',
        send: (service) => service.call('GET', `/pcast/${kind}s?type=Chat`),
      },
      {
        route: list,
        status: 'invalid-request',
        send: (service) => service.call('GET', `/pcast/${kind}s?sort=name`),
      },
      {
        route: list,
        status: 'unauthorized',
        send: (service) => service.call('GET', `/pcast/${kind}s`, undefined, null),
      },
    ];
  }),
  {
    route: 'PUT /pcast/room',
    status: 'invalid-type',
    send: (service) => service.call('PUT', '/pcast/room', { room: { name: name('Typeless') } }),
  },
  {
    route: 'GET /pcast/fork/{forkId}',
    status: 'ok',
    on: 'kafka',
    send: async (service) => {
      const { roomId } = await populated(service);
      const destination = await channel(service);
      const forked = await service.call(
        'PUT',
        path('channel', destination, `/fork/${enc(roomId)}`),
        {},
      );
      return service.call('GET', `/pcast/fork/${forked.body.forkId}`);
    },
  },
  {
    route: 'GET /pcast/fork/{forkId}',
    status: 'not-found',
    send: (service) => service.call('GET', '/pcast/fork/no-such-fork'),
  },
  {
    route: 'GET /pcast/fork/{forkId}',
    status: 'invalid-request',
    send: (service) => service.call('GET', `/pcast/fork/${'f'.repeat(300)}`),
  },
  {
    route: 'GET /pcast/fork/{forkId}',
    status: 'unauthorized',
    send: (service) => service.call('GET', '/pcast/fork/no-such-fork', undefined, null),
  },
  {
    route: 'PUT /pcast/stream',
    status: 'ok',
    send: (service) => service.call('PUT', '/pcast/stream', { sessionId: 'publisher' }),
  },
  {
    route: 'PUT /pcast/stream',
    status: 'invalid-session-id',
    send: (service) => service.call('PUT', '/pcast/stream', { sessionId: 7 }),
  },
  {
    route: 'PUT /pcast/stream',
    status: 'invalid-region',
    send: (service) => service.call('PUT', '/pcast/stream', { sessionId: 'p', region: '' }),
  },
  {
    route: 'PUT /pcast/stream',
    status: 'capacity',
    send: (service) => service.call('PUT', '/pcast/stream', { sessionId: 'p', region: 'mars' }),
  },
  {
    route: 'PUT /pcast/stream',
    status: 'invalid-request',
    send: (service) => service.call('PUT', '/pcast/stream', { sessionId: 'p', codec: 'vp8' }),
  },
  {
    route: 'PUT /pcast/stream',
    status: 'payload-too-large',
    send: (service) => raw(service, 'PUT', '/pcast/stream', OVERSIZE),
  },
  {
    route: 'PUT /pcast/stream',
    status: 'unsupported-media-type',
    send: (service) => raw(service, 'PUT', '/pcast/stream', '<stream/>', 'application/xml'),
  },
  {
    route: 'PUT /pcast/stream',
    status: 'unauthorized',
    send: (service) => service.call('PUT', '/pcast/stream', { sessionId: 'p' }, null),
  },
  ...(['GET', 'DELETE'] as const).flatMap((method): Row[] => {
    const route = `${method} /pcast/stream/{streamId}`;
    return [
      {
        route,
        status: 'ok',
        send: async (service) => {
          const uri = await new PcastClient(service).publish('stream-owner');
          return service.call(method, `/pcast/stream/${enc(streamIdOf(uri))}`);
        },
      },
      {
        route,
        status: 'not-found',
        send: (service) => service.call(method, `/pcast/stream/${enc('us-east#none#x')}`),
      },
      {
        route,
        status: 'invalid-stream-id',
        send: (service) => service.call(method, `/pcast/stream/${'s'.repeat(600)}`),
      },
      {
        route,
        status: 'unauthorized',
        send: (service) => service.call(method, '/pcast/stream/x', undefined, null),
      },
    ];
  }),
  {
    route: 'DELETE /pcast/stream/{streamId}',
    status: 'invalid-request',
    send: (service) => service.call('DELETE', '/pcast/stream/x', { reason: 'r', force: true }),
  },
  {
    route: 'DELETE /pcast/stream/{streamId}',
    status: 'payload-too-large',
    send: (service) => raw(service, 'DELETE', '/pcast/stream/x', OVERSIZE),
  },
  {
    route: 'DELETE /pcast/stream/{streamId}',
    status: 'unsupported-media-type',
    send: (service) => raw(service, 'DELETE', '/pcast/stream/x', 'reason', 'text/plain'),
  },
  {
    route: 'GET /health',
    status: 'ok',
    send: (service) => service.call('GET', '/health', undefined, null),
  },
  {
    route: 'GET /openapi.json',
    status: 'ok',
    send: async (service) => {
      const response = await fetch(`${service.url}/openapi.json`);
      return { code: response.status, body: { status: 'ok', document: await response.json() } };
    },
  },
  {
    route: 'GET /metrics',
    status: 'ok',
    send: async (service) => {
      const response = await fetch(`${service.url}/metrics`);
      return { code: response.status, body: { status: 'ok', text: await response.text() } };
    },
  },
  {
    // One route stands for all: authentication runs first on every route, so a failing
    // application lookup fails every route the same way.
    route: 'GET /pcast/rooms',
    status: 'internal-error',
    send: async (service) => {
      const { applications } = service.store;
      const get = applications.get;
      applications.get = async () => {
        throw new Error('store is down (injected)');
      };
      try {
        const reply = await service.call('GET', '/pcast/rooms');
        expect(reply.body.message).toBe('internal error');
        return reply;
      } finally {
        applications.get = get;
      }
    },
  },
);

describe('route table', () => {
  test.each(
    rows.map(
      (row) =>
        [
          `${row.route} ${row.status}${row.code ? ` ${row.code}` : ''}${row.on && row.on !== 'embedded' ? ` (${row.on})` : ''}`,
          row,
        ] as const,
    ),
  )('%s', async (_name, row) => {
    const service = services()[row.on ?? 'embedded'];
    const reply = await row.send(service);
    expect(reply.body?.status, JSON.stringify(reply.body)).toBe(row.status);
    expect(reply.code).toBe(row.code ?? httpCodeOf(row.status));
    if (reply.code >= 400) {
      expect(typeof reply.body.message).toBe('string');
      expect(reply.body.message.length).toBeGreaterThan(0);
    }
  });

  test('every documented route status has a row', async () => {
    const document = (await embedded.call('GET', '/openapi.json', undefined, null)).body;
    const documented: string[] = [];
    for (const [url, operations] of Object.entries<any>(document.paths)) {
      for (const [method, operation] of Object.entries<any>(operations)) {
        for (const [code, response] of Object.entries<any>(operation.responses)) {
          for (const status of response.content['application/json'].schema.allOf[1].properties
            .status.enum) {
            documented.push(`${method.toUpperCase()} ${url} ${status} ${code}`);
          }
        }
      }
    }
    const covered = new Set(
      rows.map((row) => `${row.route} ${row.status} ${row.code ?? httpCodeOf(row.status)}`),
    );
    // internal-error has one row: it needs an injected fault, and every route reaches it the
    // same way, through the error handler.
    const missing = documented.filter(
      (entry) => !covered.has(entry) && !entry.endsWith(' internal-error 500'),
    );
    expect(missing).toEqual([]);
    const undocumented = [...covered].filter((entry) => !documented.includes(entry));
    expect(undocumented).toEqual([]);
  });
});
