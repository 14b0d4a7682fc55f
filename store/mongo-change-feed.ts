/**
 * The MongoDB store's change feed: one change stream per member collection (the audience set
 * and the other roles live apart), merged into one cursor. The resume token is a JSON object of
 * each collection's own change-stream resume token.
 *
 * Only collection-level `watch()` with `fullDocument: 'updateLookup'` is used: mongo-java-server
 * 1.47, the wire server the tests run against, serves no database-level change stream and puts
 * update operators where `documentKey` belongs, so ids come from `fullDocument._id` first.
 */
import { MongoServerError, type ChangeStream, type Collection, type Document } from 'mongodb';
import type { Logger } from 'pino';
import {
  ChangeHistoryLostError,
  type ChangeCursor,
  type ChangeFeed,
  type MemberChange,
} from './store.ts';

/** MongoDB's error code when a resume token is older than the oplog (`ChangeStreamHistoryLost`). */
const CHANGE_STREAM_HISTORY_LOST = 286;

type Tokens = Record<string, unknown>;

interface Pending {
  resolve(change: MemberChange): void;
  reject(error: unknown): void;
}

export class MongoChangeFeed implements ChangeFeed {
  constructor(
    private readonly collections: Record<string, Collection<Document>>,
    private readonly logger: Logger,
  ) {}

  async open(resumeToken: string | null): Promise<ChangeCursor> {
    const tokens = parseTokens(resumeToken);
    const queue: (MemberChange | { error: unknown })[] = [];
    const waiting: Pending[] = [];
    const streams: ChangeStream[] = [];
    let closed = false;

    const deliver = (item: MemberChange | { error: unknown }) => {
      const pending = waiting.shift();
      if (pending === undefined) {
        queue.push(item);
      } else if ('error' in item) {
        pending.reject(item.error);
      } else {
        pending.resolve(item);
      }
    };

    for (const [name, collection] of Object.entries(this.collections)) {
      const token = tokens[name];
      const stream = collection.watch([], {
        fullDocument: 'updateLookup',
        ...(token === undefined ? {} : { resumeAfter: token }),
      });
      streams.push(stream);
      // tryNext opens the server cursor now, so changes made after open() returns are seen.
      const first = await stream.tryNext().catch((error: unknown) => {
        throw classify(error);
      });
      const handle = (event: Document | null) => {
        if (event === null) {
          return;
        }
        if (event.operationType === 'invalidate') {
          deliver({
            error: new ChangeHistoryLostError(`change stream on ${name} was invalidated`),
          });
          return;
        }
        tokens[name] = event._id;
        const change = memberChange(event, JSON.stringify(tokens));
        if (change === undefined) {
          this.logger.warn(
            { collection: name, operationType: event.operationType },
            'change without a member id skipped',
          );
          return;
        }
        deliver(change);
      };
      handle(first);
      void (async () => {
        while (!closed) {
          try {
            handle(await stream.next());
          } catch (error) {
            if (!closed) {
              deliver({ error: classify(error) });
            }
            return;
          }
        }
      })();
    }

    return {
      next: () => {
        const item = queue.shift();
        if (item !== undefined) {
          return 'error' in item ? Promise.reject(item.error) : Promise.resolve(item);
        }
        return new Promise<MemberChange>((resolve, reject) => waiting.push({ resolve, reject }));
      },
      close: async () => {
        closed = true;
        await Promise.all(streams.map((stream) => stream.close()));
        for (const pending of waiting.splice(0)) {
          pending.reject(new Error('change cursor closed'));
        }
      },
    };
  }
}

function parseTokens(resumeToken: string | null): Tokens {
  if (resumeToken === null) {
    return {};
  }
  try {
    const parsed: unknown = JSON.parse(resumeToken);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return parsed as Tokens;
    }
  } catch (error) {
    throw new ChangeHistoryLostError('resume token is not valid JSON', { cause: error });
  }
  throw new ChangeHistoryLostError('resume token is not an object of collection tokens');
}

function memberChange(event: Document, token: string): MemberChange | undefined {
  const operation = event.operationType === 'delete' ? 'delete' : 'upsert';
  const id = (event.fullDocument?._id ?? event.documentKey?._id) as Document | undefined;
  if (typeof id?.roomId !== 'string' || typeof id.sessionId !== 'string') {
    return undefined;
  }
  return { token, roomId: id.roomId, sessionId: id.sessionId, operation };
}

function classify(error: unknown): unknown {
  if (error instanceof MongoServerError && error.code === CHANGE_STREAM_HISTORY_LOST) {
    return new ChangeHistoryLostError('resume token is older than the oplog', { cause: error });
  }
  return error;
}
