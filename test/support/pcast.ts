/** Test helpers for the `/pcast` REST API of a running test service. */
import { expect } from 'vitest';
import { parseStreamUri } from '../../domain/stream-uri.ts';
import { channelPath, type TestService } from './service.ts';

export interface MemberView {
  sessionId: string;
  screenName: string;
  role: string;
  state: string;
  streams: { uri: string; type: string; audioState: string; videoState: string }[];
  lastUpdate: number;
}

let counter = 0;

export function streamIdOf(uri: string): string {
  const parsed = parseStreamUri(uri);
  expect(parsed, `stream URI ${uri}`).toBeDefined();
  return parsed?.streamId ?? '';
}

export class PcastClient {
  constructor(private readonly service: TestService) {}

  async createChannel(name = 'Channel'): Promise<{ channelId: string; alias: string }> {
    counter += 1;
    const reply = await this.service.call('PUT', '/pcast/channel', {
      channel: { name: `${name} ${counter} ${Date.now()}`, description: 'test', options: [] },
    });
    expect(reply.code).toBe(200);
    return { channelId: reply.body.channel.channelId, alias: reply.body.channel.alias };
  }

  async publish(sessionId: string, region?: string): Promise<string> {
    const reply = await this.service.call('PUT', '/pcast/stream', {
      sessionId,
      capabilities: ['hd'],
      ...(region === undefined ? {} : { region }),
    });
    expect(reply.code).toBe(200);
    return reply.body.uri;
  }

  async join(channelId: string, sessionId: string, uris: string[]): Promise<void> {
    const reply = await this.service.call('PUT', channelPath(channelId, '/members'), {
      member: {
        sessionId,
        screenName: `screen-${sessionId}`,
        role: 'Presenter',
        state: 'Active',
        streams: uris.map((uri) => ({
          uri,
          type: 'User',
          audioState: 'TRACK_ENABLED',
          videoState: 'TRACK_ENABLED',
        })),
      },
      options: ['reenter'],
    });
    expect(reply.code).toBe(200);
  }

  async leave(channelId: string, sessionId: string): Promise<void> {
    const reply = await this.service.call(
      'DELETE',
      channelPath(channelId, `/members/${encodeURIComponent(sessionId)}`),
    );
    expect(reply.code).toBe(200);
  }

  /** A source channel with `members` members of `streams` published streams each. */
  async sourceWith(
    members: number,
    options: { streams?: number; region?: string } = {},
  ): Promise<{ channelId: string; sessions: string[] }> {
    const { channelId } = await this.createChannel('Source');
    const sessions: string[] = [];
    for (let index = 0; index < members; index += 1) {
      const sessionId = `s${counter}-${index}`;
      sessions.push(sessionId);
      const uris: string[] = [];
      for (let stream = 0; stream < (options.streams ?? 2); stream += 1) {
        uris.push(await this.publish(sessionId, options.region));
      }
      await this.join(channelId, sessionId, uris);
    }
    return { channelId, sessions };
  }

  async members(channelId: string): Promise<MemberView[]> {
    const reply = await this.service.call('GET', channelPath(channelId, '/members'));
    expect(reply.code).toBe(200);
    return reply.body.members;
  }

  async stream(streamId: string): Promise<any> {
    const reply = await this.service.call('GET', `/pcast/stream/${encodeURIComponent(streamId)}`);
    expect(reply.code).toBe(200);
    return reply.body.stream;
  }

  async endStream(streamId: string, reason = 'test-ended'): Promise<void> {
    const reply = await this.service.call(
      'DELETE',
      `/pcast/stream/${encodeURIComponent(streamId)}`,
      {
        reason,
      },
    );
    expect(reply.code).toBe(200);
  }

  async fork(destination: string, source: string, body: object = {}) {
    return this.service.call(
      'PUT',
      channelPath(destination, `/fork/${encodeURIComponent(source)}`),
      body,
    );
  }
}
