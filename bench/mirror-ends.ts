/** Ends mirrors at their media nodes, as a node failure would, on a schedule or at once. */
import type { MediaCluster } from '../media/media-cluster.ts';
import { forEachLimit, sleep } from './concurrency.ts';
import type { CarriedMirror } from './setup.ts';

/**
 * End reason the bench gives. Any reason but `origin-stream-ended` makes the service heal the
 * mirror, because only the end of its origin means the mirror cannot come back.
 */
export const BENCH_END_REASON = 'bench-node-ended';

/**
 * Ends each mirror at `offsetsMs[i]` after `startedAt` (a performance.now() value). The calls run
 * without waiting for each other, so a slow reply does not delay the next end. Resolves once
 * every call has returned.
 */
export async function endOnSchedule(
  media: MediaCluster,
  mirrors: readonly CarriedMirror[],
  offsetsMs: readonly number[],
  startedAt: number,
  onEnded: (count: number) => void = () => undefined,
): Promise<void> {
  const calls: Promise<void>[] = [];
  let ended = 0;
  for (const [index, mirror] of mirrors.entries()) {
    const delay = startedAt + (offsetsMs[index] ?? 0) - performance.now();
    if (delay > 0) {
      await sleep(delay);
    }
    calls.push(
      endMirror(media, mirror).then(() => {
        ended += 1;
        onEnded(ended);
      }),
    );
  }
  await Promise.all(calls);
}

/** Ends every mirror as fast as `concurrency` calls in flight allow. */
export async function endAllAtOnce(
  media: MediaCluster,
  mirrors: readonly CarriedMirror[],
  concurrency: number,
  onEnded: (count: number) => void = () => undefined,
): Promise<void> {
  let ended = 0;
  await forEachLimit(mirrors, concurrency, async (mirror) => {
    await endMirror(media, mirror);
    ended += 1;
    onEnded(ended);
  });
}

async function endMirror(media: MediaCluster, mirror: CarriedMirror): Promise<void> {
  await media.injectFault(mirror.nodeId, {
    type: 'end',
    streamId: mirror.streamId,
    reason: BENCH_END_REASON,
  });
}
