/**
 * Bad input through real HTTP: strict bodies, the body size limit, prototype keys and
 * authentication, plus the rule that credentials never reach the logs.
 */
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BODY_LIMIT_BYTES } from '../api/app.ts';
import {
  APP,
  OTHER_APP,
  channelPath,
  startTestService,
  type TestService,
} from './support/service.ts';

let service: TestService;
let logLines: string[];

beforeAll(async () => {
  logLines = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  service = await startTestService({ embedded: true, logger: pino({ level: 'trace' }, sink) });
});

afterAll(async () => {
  await service?.stop();
});

const authorization = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** Sends raw bytes with node's http client, which allows chunked bodies and odd headers. */
function send(
  method: string,
  path: string,
  body: Buffer | string | undefined,
  headers: Record<string, string> = {},
): Promise<{ code: number; body: any }> {
  const url = new URL(service.url);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { authorization: authorization(APP.id, APP.secret), ...headers },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            code: response.statusCode ?? 0,
            body: text === '' ? undefined : JSON.parse(text),
          });
        });
      },
    );
    request.on('error', reject);
    if (body !== undefined) {
      request.write(body);
    }
    request.end();
  });
}

const json = { 'content-type': 'application/json' };

async function createChannel(): Promise<string> {
  const reply = await service.call('PUT', '/pcast/channel', {
    channel: { name: `Hard ${Date.now()}` },
  });
  return reply.body.channel.channelId;
}

describe('strict bodies', () => {
  test.each([
    [
      'number for a string',
      { room: { name: 5, type: 'TownHall' } },
      'name-required',
      'body.room.name must be of type string, got integer',
    ],
    [
      'string for an array',
      { room: { name: 'n', type: 'TownHall', options: 'a' } },
      'invalid-option',
      'body.room.options must be of type array, got string',
    ],
    [
      'boolean for a string',
      { room: { name: true, type: 'TownHall' } },
      'name-required',
      'body.room.name must be of type string, got boolean',
    ],
    [
      'array for an object',
      { room: [] },
      'invalid-request',
      'body.room must be of type object, got array',
    ],
    [
      'null for an object',
      { room: null },
      'invalid-request',
      'body.room must be of type object, got null',
    ],
    [
      'unknown key',
      { room: { name: 'n', type: 'TownHall', owner: 'me' } },
      'invalid-request',
      'body.room has unknown key "owner"; expected only alias, name, description, options, type',
    ],
    [
      'unknown top-level key',
      { room: { name: 'n', type: 'TownHall' }, extra: 1 },
      'invalid-request',
      'body has unknown key "extra"; expected only room',
    ],
  ])('%s is rejected', async (_case, body, status, message) => {
    const reply = await service.call('PUT', '/pcast/room', body);
    expect(reply.code).toBe(400);
    expect(reply.body.status).toBe(status);
    expect(reply.body.message).toBe(message);
  });

  test.each([
    [
      '__proto__ at the top',
      '{"__proto__":{"polluted":true},"room":{"name":"n","type":"TownHall"}}',
    ],
    ['__proto__ nested', '{"room":{"name":"n","type":"TownHall","__proto__":{"polluted":true}}}'],
    [
      'constructor nested',
      '{"room":{"name":"n","type":"TownHall","constructor":{"prototype":{}}}}',
    ],
    ['prototype key', '{"room":{"name":"n","type":"TownHall"},"prototype":1}'],
  ])('%s is rejected', async (_case, text) => {
    const reply = await send('PUT', '/pcast/room', text, json);
    expect(reply.code).toBe(400);
    expect(reply.body.status).toBe('invalid-request');
    expect(reply.body.message).toMatch(
      /^body key "(__proto__|constructor|prototype)" is not allowed$/,
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('malformed JSON names the parse error', async () => {
    const reply = await send('PUT', '/pcast/room', '{"room": {', json);
    expect(reply.code).toBe(400);
    expect(reply.body.status).toBe('invalid-request');
    expect(reply.body.message).toMatch(/^body is not valid JSON: /);
  });

  test('other content types get 415', async () => {
    const reply = await send('PUT', '/pcast/room', 'name=x', { 'content-type': 'text/plain' });
    expect(reply.code).toBe(415);
    expect(reply.body.status).toBe('unsupported-media-type');
    expect(reply.body.message).toContain('text/plain');
  });

  test('body at the limit is read', async () => {
    const prefix = '{"room":{"name":"Big","type":"TownHall","description":"';
    const suffix = '"}}';
    const padding = 'd'.repeat(BODY_LIMIT_BYTES - prefix.length - suffix.length);
    const reply = await send('PUT', '/pcast/room', prefix + padding + suffix, json);
    // Parsed in full: the schema's description limit rejects it, not the body limit.
    expect(reply.code).toBe(400);
    expect(reply.body.message).toContain('body.room.description');
  });

  test('body one byte over the limit gets 413', async () => {
    const body = Buffer.alloc(BODY_LIMIT_BYTES + 1, 0x20);
    const reply = await send('PUT', '/pcast/room', body, json);
    expect(reply.code).toBe(413);
    expect(reply.body.status).toBe('payload-too-large');
    expect(reply.body.message).toBe(`body is larger than the limit of ${BODY_LIMIT_BYTES} bytes`);
  });

  test('chunked body over the limit gets 413', async () => {
    const url = new URL(service.url);
    const code = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method: 'PUT',
          path: '/pcast/room',
          headers: { ...json, authorization: authorization(APP.id, APP.secret) },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      for (let written = 0; written <= BODY_LIMIT_BYTES; written += chunk.length) {
        request.write(chunk);
      }
      request.end();
    });
    expect(code).toBe(413);
  });

  test('rejected bodies change nothing', async () => {
    const channelId = await createChannel();
    await send(
      'PUT',
      channelPath(channelId, '/members'),
      '{"member":{"sessionId":"x","screenName":"x","role":"Presenter","state":"Active","__proto__":{}}}',
      json,
    );
    await service.call('PUT', channelPath(channelId, '/members'), {
      member: { sessionId: 'y', screenName: 'y', role: 'Presenter', state: 'Active', extra: 1 },
    });
    const members = await service.call('GET', channelPath(channelId, '/members'));
    expect(members.body.members).toEqual([]);
  });
});

describe('authentication', () => {
  test.each([
    ['no header', undefined],
    ['wrong secret', authorization(APP.id, 'not-the-secret')],
    ['unknown application', authorization('nobody', APP.secret)],
    ['no colon', `Basic ${Buffer.from('justtext').toString('base64')}`],
    ['not base64', 'Basic !!!'],
    ['another scheme', `Bearer ${APP.secret}`],
    ['overlong header', `Basic ${'A'.repeat(8000)}`],
  ])('%s gets 401', async (_case, header) => {
    const headers: Record<string, string> = header === undefined ? {} : { authorization: header };
    const response = await fetch(`${service.url}/pcast/rooms`, { headers });
    const body = (await response.json()) as { status: string };
    expect(response.status).toBe(401);
    expect(body.status).toBe('unauthorized');
  });

  test('401 comes before body validation', async () => {
    const response = await fetch(`${service.url}/pcast/room`, {
      method: 'PUT',
      headers: json,
      body: '{"not json',
    });
    expect(response.status).toBe(401);
  });

  test("another application's room gets 403", async () => {
    const channelId = await createChannel();
    const reply = await service.call('GET', channelPath(channelId), undefined, OTHER_APP);
    expect(reply.code).toBe(403);
    expect(reply.body.status).toBe('unauthorized');
    expect(reply.body.message).toContain('another application');
  });

  test('public routes need no credentials', async () => {
    for (const path of ['/health', '/metrics', '/openapi.json']) {
      const response = await fetch(service.url + path);
      expect(response.status, path).toBe(200);
    }
  });

  test('secret never appears in logs', async () => {
    const header = authorization(APP.id, APP.secret);
    const encoded = header.slice('Basic '.length);
    logLines.length = 0;

    await service.call('GET', '/pcast/rooms');
    await service.call('GET', '/pcast/rooms', undefined, {
      id: APP.id,
      secret: 'wrong-secret-value',
    });
    await service.call(
      'PUT',
      '/pcast/room',
      { room: { name: APP.secret } },
      { id: APP.id, secret: 'x' },
    );
    await send('GET', '/pcast/nowhere', undefined);

    const output = logLines.join('');
    expect(logLines.length).toBeGreaterThan(0);
    expect(output).toContain('request completed');
    expect(output).not.toContain(APP.secret);
    expect(output).not.toContain(encoded);
    expect(output).not.toContain('wrong-secret-value');
  });
});
