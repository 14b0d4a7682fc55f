/** Rooms, streams and forks that scenarios start from, made through the REST API. */
import type { MediaCluster } from '../media/media-cluster.ts';
import { forEachLimit, mapLimit } from './concurrency.ts';
import { streamIdOf, type PcastClient } from './pcast-client.ts';

/** Requests in flight while setting up; enough to keep every partition busy. */
const SETUP_CONCURRENCY = 8;

export interface SourceRoom {
  channelId: string;
  /** Unique within the run; names the source's channels and sessions. */
  label: string;
  sessionIds: string[];
}

/** A mirror that a destination member carries, and the media node that carries it. */
export interface CarriedMirror {
  destinationId: string;
  sessionId: string;
  streamId: string;
  nodeId: string;
}

let sourceCounter = 0;

/** Creates a channel whose members each publish `streamsPerMember` origin streams. */
export async function createSource(
  pcast: PcastClient,
  members: number,
  streamsPerMember: number,
): Promise<SourceRoom> {
  sourceCounter += 1;
  const label = `bench-source-${sourceCounter}`;
  const channelId = await pcast.createChannel(label);
  const sessionIds = Array.from({ length: members }, (_, index) => `${label}-member-${index}`);
  await forEachLimit(sessionIds, SETUP_CONCURRENCY, async (sessionId) => {
    const uris: string[] = [];
    for (let stream = 0; stream < streamsPerMember; stream += 1) {
      uris.push(await pcast.publish(sessionId));
    }
    await pcast.join(channelId, sessionId, uris);
  });
  return { channelId, label, sessionIds };
}

/** Creates `count` channels and forks the source into each. Returns their ids. */
export async function forkIntoNewChannels(
  pcast: PcastClient,
  source: SourceRoom,
  count: number,
  onForked: (done: number) => void = () => undefined,
): Promise<string[]> {
  let done = 0;
  return mapLimit(Array.from({ length: count }), SETUP_CONCURRENCY, async (_, index) => {
    // Channel names must differ, because the alias derived from the name is unique.
    const destinationId = await pcast.createChannel(`${source.label} destination ${index}`);
    await pcast.fork(destinationId, source.channelId);
    done += 1;
    onForked(done);
    return destinationId;
  });
}

/** Lists the mirrors that the destinations' members carry, with the node of each. */
export async function carriedMirrors(
  pcast: PcastClient,
  media: MediaCluster,
  destinationIds: readonly string[],
): Promise<CarriedMirror[]> {
  const nodeOf = new Map<string, string>();
  for (const node of media.nodes()) {
    for (const stream of await media.listStreams(node.nodeId)) {
      if (stream.state === 'started') {
        nodeOf.set(stream.streamId, node.nodeId);
      }
    }
  }
  const perDestination = await mapLimit(
    destinationIds,
    SETUP_CONCURRENCY,
    async (destinationId) => {
      const members = await pcast.members(destinationId);
      return members.flatMap((member) =>
        member.streams.map((stream) => {
          const streamId = streamIdOf(stream.uri);
          const nodeId = nodeOf.get(streamId);
          if (nodeId === undefined) {
            throw new Error(`mirror ${streamId} of ${destinationId} is live on no media node`);
          }
          return { destinationId, sessionId: member.sessionId, streamId, nodeId };
        }),
      );
    },
  );
  return perDestination.flat();
}

/** Returns the source's members with the origin stream ids that their URIs name. */
export async function sourceStreams(
  pcast: PcastClient,
  source: SourceRoom,
): Promise<{ sessionId: string; originStreamId: string }[]> {
  const members = await pcast.members(source.channelId);
  return members.flatMap((member) =>
    member.streams.map((stream) => ({
      sessionId: member.sessionId,
      originStreamId: streamIdOf(stream.uri),
    })),
  );
}
