/**
 * Resident memory of every process once the service's database contains the target numbers of
 * destinations and members. The channels and members that earlier scenarios made count toward
 * the targets; the bench seeds the rest. The service then serves forks into seeded channels, so
 * its memory is that of a service working on a store of that size.
 */
import type { Logger } from 'pino';
import { mapLimit } from '../concurrency.ts';
import {
  processesOf,
  waitUntilIdle,
  type ServiceEnvironment,
  type Servers,
} from '../environment.ts';
import type { BenchSizes } from '../options.ts';
import { readProcessMemory, type ProcessMemory } from '../process-stats.ts';
import type { Progress } from '../progress.ts';
import { sample, type Random } from '../random.ts';
import { Seeder } from '../seed.ts';
import { createSource, sourceStreams } from '../setup.ts';
import { summarize, type Summary } from '../stats.ts';

export interface MemoryResult {
  sizes: BenchSizes['memory'];
  /** Channels and members in the database when memory was read. */
  counted: { rooms: number; members: number };
  seededRooms: number;
  seededMembers: number;
  /** Forks into seeded channels whose members are all in the source, so nothing changes. */
  noopForks: Summary;
  /** Live streams on each media node when memory was read. */
  liveStreams: { nodeId: string; live: number }[];
  processes: ({ name: string } & ProcessMemory)[];
  /** True when the measured service process was started for this scenario. */
  newService: boolean;
}

export async function runMemory(
  servers: Servers,
  environment: ServiceEnvironment,
  sizes: BenchSizes['memory'],
  random: Random,
  progress: Progress,
  logger: Logger,
  newService: boolean,
): Promise<MemoryResult> {
  const { media } = environment;
  const seeder = await Seeder.open(servers.mongodbUri, environment.mongoDbName, media, logger);
  let seededRooms = 0;
  let seededMembers = 0;
  let channels;
  let source;
  try {
    const before = await seeder.count();
    seededRooms = Math.max(sizes.forks, sizes.destinations - before.rooms);
    const perChannel = Math.max(
      1,
      Math.ceil(Math.max(0, sizes.members - before.members) / seededRooms),
    );
    // The seeded members are the source's, so a fork of the source into their channel is a no-op.
    source = await createSource(environment.pcast, perChannel, 1);
    const streams = await sourceStreams(environment.pcast, source);
    progress.log(
      `memory: the database contains ${before.rooms} channels and ${before.members} members; ` +
        `seeding ${seededRooms} channels with ${perChannel} members each`,
    );
    channels = await seeder.createChannels(seededRooms, 'memory');
    await seeder.addMembers(channels, streams, (done) =>
      progress.tick(`memory: ${done}/${seededRooms * perChannel} members seeded`),
    );
    seededMembers = seededRooms * perChannel;
  } finally {
    await seeder.close();
  }

  await waitUntilIdle(servers, environment, progress, 'memory');
  progress.log(`memory: forking into ${sizes.forks} seeded channels`);
  const pcast = environment.pcast;
  const sourceId = source.channelId;
  const noopMs = await mapLimit(sample(channels, sizes.forks, random), 1, async (channel) => {
    const start = performance.now();
    await pcast.fork(channel.roomId, sourceId);
    return performance.now() - start;
  });

  const recount = await Seeder.open(servers.mongodbUri, environment.mongoDbName, media, logger);
  let counted;
  try {
    counted = await recount.count();
  } finally {
    await recount.close();
  }
  const liveStreams = await Promise.all(
    media.nodes().map(async (node) => ({
      nodeId: node.nodeId,
      live: (await media.nodeStatus(node.nodeId)).load,
    })),
  );
  const processes = [];
  for (const { name, pid } of processesOf(servers, environment)) {
    processes.push({ name, ...(await readProcessMemory(pid)) });
  }
  progress.log(`memory: ${counted.rooms} channels, ${counted.members} members; memory read`);
  return {
    sizes,
    counted,
    seededRooms,
    seededMembers,
    noopForks: summarize(noopMs),
    liveStreams,
    processes,
    newService,
  };
}
