/**
 * The in-memory store's change feed: a numbered log of member changes that cursors read from a
 * position. The log keeps the latest `retention` changes. A cursor opened before them fails
 * with ChangeHistoryLostError, as a MongoDB change stream does when its token left the oplog.
 */
import { EventEmitter } from 'node:events';
import {
  ChangeHistoryLostError,
  type ChangeCursor,
  type ChangeFeed,
  type MemberChange,
} from './store.ts';

export const DEFAULT_CHANGE_RETENTION = 100_000;

export class MemoryChangeFeed implements ChangeFeed {
  private readonly log: MemberChange[] = [];
  private lastSeq = 0;
  private readonly appended = new EventEmitter();

  constructor(private readonly retention = DEFAULT_CHANGE_RETENTION) {
    this.appended.setMaxListeners(0);
  }

  record(roomId: string, sessionId: string, operation: MemberChange['operation']): void {
    this.lastSeq += 1;
    this.log.push({ token: String(this.lastSeq), roomId, sessionId, operation });
    if (this.log.length > this.retention) {
      this.log.splice(0, this.log.length - this.retention);
    }
    this.appended.emit('appended');
  }

  async open(resumeToken: string | null): Promise<ChangeCursor> {
    let position = resumeToken === null ? this.lastSeq : Number(resumeToken);
    if (!Number.isInteger(position) || position < 0 || position > this.lastSeq) {
      throw new ChangeHistoryLostError(
        `resume token ${JSON.stringify(resumeToken)} is not from this feed`,
      );
    }
    let closed = false;
    const wake = new EventEmitter();
    return {
      next: async () => {
        for (;;) {
          if (closed) {
            throw new Error('change cursor closed');
          }
          const first = Number(this.log[0]?.token ?? this.lastSeq + 1);
          if (position + 1 < first) {
            throw new ChangeHistoryLostError(`changes after ${position} are no longer kept`);
          }
          const change = this.log[position + 1 - first];
          if (change !== undefined) {
            position += 1;
            return { ...change };
          }
          await new Promise<void>((resolve) => {
            const done = () => {
              this.appended.off('appended', done);
              wake.off('close', done);
              resolve();
            };
            this.appended.on('appended', done);
            wake.on('close', done);
          });
        }
      },
      close: async () => {
        closed = true;
        wake.emit('close');
      },
    };
  }
}
