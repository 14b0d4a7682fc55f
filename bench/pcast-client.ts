/** A small client of the service's `/pcast` REST API for the bench's setup and forks. */
import { parseStreamUri } from '../domain/stream-uri.ts';

export interface MemberView {
  sessionId: string;
  streams: { uri: string }[];
  /** Epoch ms of the member record's last write, set by the service. */
  lastUpdate: number;
}

export interface StreamView {
  streamId: string;
  node: string;
  state: string;
  upstreamId: string | null;
}

export class RequestError extends Error {
  override name = 'RequestError';
}

export class PcastClient {
  readonly #baseUrl: string;
  readonly #authorization: string;

  constructor(baseUrl: string, credentials: { id: string; secret: string }) {
    this.#baseUrl = baseUrl;
    this.#authorization = `Basic ${Buffer.from(`${credentials.id}:${credentials.secret}`).toString('base64')}`;
  }

  /** Sends one request; throws RequestError for a reply other than 200. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: this.#authorization };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(this.#baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status !== 200) {
      throw new RequestError(`${method} ${path} failed with HTTP ${response.status}: ${text}`);
    }
    return JSON.parse(text) as T;
  }

  async createChannel(name: string): Promise<string> {
    const reply = await this.call<{ channel: { channelId: string } }>('PUT', '/pcast/channel', {
      channel: { name },
    });
    return reply.channel.channelId;
  }

  /** Publishes an origin stream and returns its URI. */
  async publish(sessionId: string): Promise<string> {
    const reply = await this.call<{ uri: string }>('PUT', '/pcast/stream', {
      sessionId,
      capabilities: ['hd'],
    });
    return reply.uri;
  }

  async join(channelId: string, sessionId: string, uris: string[]): Promise<void> {
    await this.call<unknown>('PUT', channelPath(channelId, '/members'), {
      member: {
        sessionId,
        screenName: sessionId,
        role: 'Presenter',
        state: 'Active',
        streams: uris.map((uri) => ({ uri })),
      },
      options: ['reenter'],
    });
  }

  /** Forks and waits for the outcome. Throws unless the fork's status is `ok`. */
  async fork(destinationId: string, sourceId: string, options: string[] = []): Promise<void> {
    const path = channelPath(destinationId, `/fork/${encodeURIComponent(sourceId)}`);
    const reply = await this.call<{ status: string }>('PUT', path, {
      streamCapabilities: ['hd'],
      options,
    });
    if (reply.status !== 'ok') {
      throw new RequestError(
        `fork of ${sourceId} into ${destinationId} failed with status ${reply.status}`,
      );
    }
  }

  async members(channelId: string): Promise<MemberView[]> {
    const reply = await this.call<{ members: MemberView[] }>(
      'GET',
      channelPath(channelId, '/members'),
    );
    return reply.members;
  }

  async stream(streamId: string): Promise<StreamView> {
    const reply = await this.call<{ stream: StreamView }>(
      'GET',
      `/pcast/stream/${encodeURIComponent(streamId)}`,
    );
    return reply.stream;
  }
}

/** Room ids contain `#`, which a path must carry as `%23`. */
export function channelPath(channelId: string, rest = ''): string {
  return `/pcast/channel/${encodeURIComponent(channelId)}${rest}`;
}

export function streamIdOf(uri: string): string {
  const parsed = parseStreamUri(uri);
  if (parsed === undefined) {
    throw new Error(`invalid stream URI ${uri}`);
  }
  return parsed.streamId;
}
