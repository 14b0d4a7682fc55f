/**
 * What the API documents about itself: the OpenAPI document lists every registered route, the
 * errors page lists every status with its HTTP code, and `/metrics` reports requests, forks and
 * consumer lag.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { STATUS_CODES, isStatus } from '../domain/errors.ts';
import { PcastClient, streamIdOf } from './support/pcast.ts';
import { startTestService, waitFor, type TestService } from './support/service.ts';

let service: TestService;

beforeAll(async () => {
  service = await startTestService();
});

afterAll(async () => {
  await service?.stop();
});

/**
 * Returns `METHOD /path` for every route fastify registered, from its route tree print-out,
 * in which each line contains one path segment indented under its parent.
 */
function registeredRoutes(tree: string): string[] {
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[└├]── (\S*)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (match === null) {
      continue;
    }
    const depth = (match[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(match[2] ?? '');
    for (const method of (match[3] ?? '').split(', ').filter((m) => m !== '' && m !== 'HEAD')) {
      routes.push(`${method} ${stack.join('')}`);
    }
  }
  return routes;
}

describe('openapi document', () => {
  test('lists every registered route', async () => {
    const response = await fetch(`${service.url}/openapi.json`);
    const document = (await response.json()) as any;
    const documented = Object.entries<Record<string, unknown>>(document.paths).flatMap(
      ([path, operations]) =>
        Object.keys(operations).map(
          (method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`,
        ),
    );
    const registered = registeredRoutes(service.app.printRoutes({ commonPrefix: false }));

    expect(document.openapi).toBe('3.1.0');
    expect(registered.length).toBeGreaterThan(20);
    expect(documented.sort()).toEqual(registered.sort());
  });

  test('documents bodies, parameters and statuses', async () => {
    const document = (await (await fetch(`${service.url}/openapi.json`)).json()) as any;
    const kill = document.paths['/pcast/room/{roomId}/kill'].put;

    expect(kill.requestBody.content['application/json'].schema.required).toEqual(['reason']);
    expect(kill.parameters[0]).toMatchObject({ name: 'roomId', in: 'path', required: true });
    expect(Object.keys(kill.responses).sort()).toEqual(
      ['200', '400', '401', '403', '404', '413', '415', '500', '503', '504'].sort(),
    );
    expect(kill.security).toEqual([{ basicAuth: [] }]);
    expect(document.paths['/health'].get.security).toEqual([]);
  });
});

describe('errors page', () => {
  const page = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map(
    [...page.matchAll(/^\| `([a-z-]+)` +\| ([^|]+) \|/gm)].map((match) => [
      match[1],
      match[2]?.trim(),
    ]),
  );

  test.each(Object.entries(STATUS_CODES) as [string, number][])(
    'documents %s as HTTP %i',
    (status, code) => {
      expect(rows.get(status)).toBeDefined();
      expect(rows.get(status)?.split(' or ')[0]).toBe(String(code));
    },
  );

  test('lists no status the code does not have', () => {
    expect([...rows.keys()].filter((status) => !isStatus(status ?? ''))).toEqual([]);
  });
});

describe('metrics', () => {
  async function scrape(): Promise<string> {
    const response = await fetch(`${service.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    return response.text();
  }

  test('counts requests by route template and status code', async () => {
    await service.call('GET', '/pcast/rooms');
    await service.call('GET', '/pcast/rooms', undefined, null);
    await service.call('GET', '/pcast/room/not-an-id');

    const text = await scrape();

    expect(text).toMatch(
      /http_requests_total\{method="GET",route="\/pcast\/rooms",status_code="200"\} [1-9]/,
    );
    expect(text).toMatch(
      /http_requests_total\{method="GET",route="\/pcast\/rooms",status_code="401"\} [1-9]/,
    );
    expect(text).toMatch(
      /http_requests_total\{method="GET",route="\/pcast\/room\/:roomId",status_code="400"\} [1-9]/,
    );
    expect(text).toMatch(
      /http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/pcast\/rooms"/,
    );
    expect(text).not.toContain('not-an-id');
  });

  test('counts forks by outcome and status', async () => {
    const client = new PcastClient(service);
    const source = await client.sourceWith(1, { streams: 1 });
    const destination = await client.createChannel('Metrics');
    expect((await client.fork(destination.channelId, source.channelId)).code).toBe(200);
    const ended = await client.sourceWith(1, { streams: 1 });
    const [member] = await client.members(ended.channelId);
    await client.endStream(streamIdOf(member?.streams[0]?.uri ?? ''));
    const failed = await client.createChannel('Metrics failed');
    expect((await client.fork(failed.channelId, ended.channelId)).code).toBe(422);

    const text = await waitFor(async () => {
      const scraped = await scrape();
      return scraped.includes('fork_outcomes_total{outcome="failed",status="origin-stream-ended"}')
        ? scraped
        : undefined;
    });
    expect(text).toMatch(/fork_outcomes_total\{outcome="completed",status="ok"\} [1-9]/);
    expect(text).toMatch(
      /fork_outcomes_total\{outcome="failed",status="origin-stream-ended"\} [1-9]/,
    );
  });

  test('reports consumer lag of the service groups from Kafka', async () => {
    const text = await waitFor(async () => {
      const scraped = await scrape();
      return /consumer_lag_messages\{group="executor",topic="mirror.commands"\} \d+/.test(scraped)
        ? scraped
        : undefined;
    });
    expect(text).toMatch(/consumer_lag_messages\{group="fork-planner",topic="fork.requests"\} \d+/);
    expect(text).not.toContain(service.topicPrefix);
  });
});
