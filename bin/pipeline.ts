/**
 * Starts the processors of the fork pipeline on a bus and store: the fork planner, the executor,
 * the routers of source-side events, the trigger planner, the change-data-capture producer and a
 * lifecycle relay per in-process media node. Returns them with one stop for all.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Bus, BusMessage } from '../bus/bus.ts';
import { TOPICS } from '../bus/topics.ts';
import type { MediaAgent } from '../media/agent.ts';
import type { MediaCluster } from '../media/media-cluster.ts';
import { EXECUTOR_GROUP, Executor } from '../processors/executor.ts';
import { FollowPlanner } from '../processors/follow-planner.ts';
import { ForkEventPublisher } from '../processors/fork-events.ts';
import { ForkOutcomes } from '../processors/fork-outcomes.ts';
import { ForkPlanner, PLANNER_GROUP } from '../processors/fork-planner.ts';
import { HealApplier } from '../processors/heal-applier.ts';
import { createHealLatencyHistogram } from '../processors/heal-metrics.ts';
import { ROOM_ROUTER_GROUP, RoomRouter } from '../processors/room-router.ts';
import { StreamOperations } from '../processors/stream-operations.ts';
import { STREAM_ROUTER_GROUP, StreamRouter } from '../processors/stream-router.ts';
import { TRIGGER_PLANNER_GROUP, TriggerPlanner } from '../processors/trigger-planner.ts';
import { TopicConsumer } from '../processors/topic-consumer.ts';
import { CdcProducer } from '../producers/cdc-producer.ts';
import { LifecycleRelay, type LifecycleSource } from '../producers/lifecycle-relay.ts';
import type { Store } from '../store/store.ts';

export interface PipelineParts {
  bus: Bus;
  store: Store;
  media: MediaCluster;
  /** Media nodes running in this process, whose lifecycle events this process relays. */
  agents: MediaAgent[];
  /**
   * Relay the lifecycle events of the cluster's other nodes too, read from their control APIs.
   * Needed when those nodes cannot publish to the bus themselves (the in-memory bus).
   */
  relayRemoteNodes?: boolean;
  /**
   * Default true. False leaves out the trigger planner, so ended mirrors stay until a fork with
   * refresh-stale replaces them, as in a deployment that polls. Benchmarks compare the two.
   */
  healing?: boolean;
  registry: Registry;
  logger: Logger;
}

export interface Pipeline {
  streams: StreamOperations;
  outcomes: ForkOutcomes;
  cdc: CdcProducer;
  stop(): Promise<void>;
}

export async function startPipeline(parts: PipelineParts): Promise<Pipeline> {
  const { bus, store, media, registry, logger } = parts;
  const child = (component: string) => logger.child({ component });
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const stopOne of stops.reverse()) {
      await stopOne();
    }
  };

  try {
    const streams = new StreamOperations(store, media, child('streams'));
    const events = new ForkEventPublisher(bus);
    const outcomes = new ForkOutcomes(bus, store, child('outcomes'));
    await outcomes.start();
    stops.push(() => outcomes.stop());

    const healLatency = createHealLatencyHistogram(registry);
    const heals = new HealApplier(store, streams, events, child('heals'), (ms) =>
      healLatency.observe(ms / 1000),
    );
    const executor = new Executor(bus, store, streams, events, heals, child('executor'));
    const planner = new ForkPlanner(bus, store, events, outcomes, child('planner'));
    const follow = new FollowPlanner(bus, store);
    const triggers = new TriggerPlanner(
      bus,
      store,
      events,
      (trigger) => follow.follow(trigger),
      child('trigger-planner'),
    );
    const streamRouter = new StreamRouter(bus, store, child('stream-router'));
    const roomRouter = new RoomRouter(bus, store, child('room-router'));
    // Each processor consumes its topic with a group of its own; the trigger planner only when
    // healing is on.
    const consumers: [string, string, (message: BusMessage) => Promise<void>, string][] = [
      [EXECUTOR_GROUP, TOPICS.mirrorCommands, (message) => executor.handle(message), 'executor'],
      [PLANNER_GROUP, TOPICS.forkRequests, (message) => planner.handle(message), 'planner'],
      [
        STREAM_ROUTER_GROUP,
        TOPICS.streamLifecycle,
        (message) => streamRouter.handle(message),
        'stream-router',
      ],
      [
        ROOM_ROUTER_GROUP,
        TOPICS.roomChanges,
        (message) => roomRouter.handle(message),
        'room-router',
      ],
    ];
    if (parts.healing ?? true) {
      consumers.push([
        TRIGGER_PLANNER_GROUP,
        TOPICS.forkTriggers,
        (message) => triggers.handle(message),
        'trigger-planner',
      ]);
    }
    for (const [groupId, topic, handle, component] of consumers) {
      const consumer = new TopicConsumer(
        bus,
        { groupId, topics: [topic], logger: child(component) },
        handle,
      );
      await consumer.start();
      stops.push(() => consumer.stop());
    }

    // Rooms with standing forks are the ones whose lost changes matter.
    const cdc = new CdcProducer(store, bus, child('cdc'), () => store.standingForks.listSources());
    await cdc.start();
    stops.push(() => cdc.stop());

    const sources: LifecycleSource[] = parts.agents.map((agent) => ({
      nodeId: agent.info.nodeId,
      wait: (after, limit, waitMs) => agent.lifecycle.wait(after, limit, waitMs),
    }));
    if (parts.relayRemoteNodes) {
      const local = new Set(parts.agents.map((agent) => agent.info.nodeId));
      for (const node of media.nodes().filter((candidate) => !local.has(candidate.nodeId))) {
        sources.push({
          nodeId: node.nodeId,
          wait: (after, limit, waitMs) =>
            media.lifecycleEvents(node.nodeId, { after, limit, waitMs }),
        });
      }
    }
    for (const source of sources) {
      const relay = new LifecycleRelay(source, bus, child('lifecycle-relay'));
      relay.start();
      stops.push(() => relay.stop());
    }
    return { streams, outcomes, cdc, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
