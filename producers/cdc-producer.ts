/**
 * The change-data-capture producer: reads the store's member change feed and publishes each
 * change to room.changes, keyed by room id. The resume token is stored after each publish and
 * used on restart, so a restart neither skips nor rescans; a change published just before a
 * crash may be published again, which consumers tolerate because event ids are stable.
 *
 * When the token is no longer usable (MongoDB invalidated the stream or the token left the
 * oplog), the producer logs a warning, publishes a `resync` change for every room that a
 * standing fork follows, and continues from the current end of the feed. It never restarts in
 * a loop on the same lost token.
 */
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.ts';
import { TOPICS } from '../bus/topics.ts';
import { codecs } from '../schemas/codec.ts';
import type { RoomChange } from '../schemas/types.ts';
import { ChangeHistoryLostError, type ChangeCursor, type Store } from '../store/store.ts';

export const CDC_CHECKPOINT = 'cdc:room.changes';
const RETRY_MS = 500;

export class CdcProducer {
  private running = false;
  private cursor: ChangeCursor | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly logger: Logger,
    /** Rooms to resynchronize after lost history: the sources of standing forks. */
    private readonly followedRooms: () => Promise<string[]>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Opens the feed at the stored token (or the current end) and starts publishing. */
  async start(): Promise<void> {
    this.running = true;
    this.cursor = await this.open();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.cursor?.close();
    await this.loop;
  }

  private async open(): Promise<ChangeCursor> {
    const token = (await this.store.checkpoints.get(CDC_CHECKPOINT)) ?? null;
    try {
      return await this.store.changes.open(token);
    } catch (error) {
      if (!(error instanceof ChangeHistoryLostError)) {
        throw error;
      }
      return this.resync(error);
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      const cursor = this.cursor;
      if (cursor === undefined) {
        return;
      }
      try {
        const change = await cursor.next();
        const message: RoomChange = {
          eventId: `member:${change.token}`,
          roomId: change.roomId,
          sessionId: change.sessionId,
          operation: change.operation,
          timestamp: this.now(),
        };
        await this.publish([message]);
        await this.store.checkpoints.put(CDC_CHECKPOINT, change.token);
      } catch (error) {
        if (!this.running) {
          return;
        }
        if (error instanceof ChangeHistoryLostError) {
          await cursor.close();
          this.cursor = await this.resync(error).catch((reopenError: unknown) => {
            this.logger.error({ err: reopenError }, 'change feed could not be reopened');
            return undefined;
          });
          continue;
        }
        this.logger.error({ err: error }, 'change publishing failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  /**
   * Opens the feed at its current end and publishes a resync of every followed room, so the
   * changes that were lost reach their destinations as a whole-room comparison.
   */
  private async resync(cause: ChangeHistoryLostError): Promise<ChangeCursor> {
    this.logger.warn({ err: cause }, 'change history lost; resynchronizing followed rooms');
    const cursor = await this.store.changes.open(null);
    const at = this.now();
    const rooms = [...new Set(await this.followedRooms())];
    await this.publish(
      rooms.map((roomId) => ({
        eventId: `resync:${at}:${roomId}`,
        roomId,
        sessionId: null,
        operation: 'resync' as const,
        timestamp: at,
      })),
    );
    return cursor;
  }

  private async publish(changes: RoomChange[]): Promise<void> {
    if (changes.length === 0) {
      return;
    }
    await this.bus.publish(
      TOPICS.roomChanges,
      changes.map((change) => ({ key: change.roomId, value: codecs.roomChange.encode(change) })),
    );
  }
}
