/**
 * Keeps followed destinations in step with their source. A change of one source member becomes
 * a fork scoped to that session, produced to fork.requests, so it is planned one at a time with
 * every other fork of the destination: a member that joined the source joins the destination, one
 * that left leaves it, and one whose streams changed gets new mirrors (the fork planner adds
 * `force` for it).
 */
import type { Bus } from '../bus/bus.ts';
import { TOPICS } from '../bus/topics.ts';
import type { ForkOption, ForkRequest } from '../domain/types.ts';
import { codecs } from '../schemas/codec.ts';
import type { ForkTrigger } from '../schemas/types.ts';
import type { Store } from '../store/store.ts';

export class FollowPlanner {
  constructor(
    private readonly bus: Bus,
    private readonly store: Store,
  ) {}

  async follow(trigger: ForkTrigger): Promise<void> {
    if (trigger.sourceRoomId === null) {
      return;
    }
    const standing = await this.store.standingForks.get(trigger.roomId, trigger.sourceRoomId);
    if (standing === undefined) {
      return;
    }
    // Leaves must reach the destination, so a follow fork is never additive.
    const options = new Set(
      standing.options.filter((option) => option !== 'follow' && option !== 'additive'),
    ) as Set<ForkOption>;
    const request: ForkRequest = {
      forkId: `follow:${trigger.triggerId}`,
      applicationId: standing.applicationId,
      roomId: standing.roomId,
      sourceRoomId: standing.sourceRoomId,
      streamCapabilities: standing.streamCapabilities,
      streamTags: standing.streamTags,
      options: [...options],
      desiredRegion: standing.desiredRegion,
      requested: trigger.detectedAt,
      sessionIds: trigger.sessionId === null ? null : [trigger.sessionId],
    };
    await this.bus.publish(TOPICS.forkRequests, [
      { key: request.roomId, value: codecs.forkRequest.encode(request) },
    ]);
  }
}
