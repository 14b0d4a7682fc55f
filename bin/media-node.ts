/**
 * Runs one media node agent as its own process, with the engine that MEDIA_ENGINE names:
 * `simulated` (the default) or `mediasoup`, which spawns the worker at MEDIASOUP_WORKER_BIN.
 *
 * Configuration: NODE_ID and REGION (required), HOST (127.0.0.1), PORT (0: a free port),
 * CAPACITY (maximum live streams, 10000), LOG_LEVEL (info), MEDIASOUP_LISTEN_IP (127.0.0.1) and
 * MEDIASOUP_ANNOUNCED_IP (unset) for the mediasoup engine's RTP. When ready it prints one line,
 * `media-node <nodeId> listening <url>`, to stdout, and logs go to stderr as pino JSON. SIGTERM or
 * SIGINT stops it with exit code 0. An invalid variable stops it with exit code 1 and a message
 * naming the variable.
 */
import { pino } from 'pino';
import type { Logger } from 'pino';

import type { Bus } from '../bus/bus.ts';
import { createKafkaBus } from '../bus/kafka-bus.ts';
import { namespacedBus } from '../bus/namespaced-bus.ts';
import { startMediaAgent } from '../media/agent.ts';
import { LifecycleRelay } from '../producers/lifecycle-relay.ts';
import type { MediaAgent } from '../media/agent.ts';
import { InvalidEnvError, parseMediaNodeEnv } from '../media/node-env.ts';
import type { MediaNodeEnv } from '../media/node-env.ts';

let config: MediaNodeEnv;
try {
  config = parseMediaNodeEnv(process.env);
} catch (error) {
  if (!(error instanceof InvalidEnvError)) {
    throw error;
  }
  process.stderr.write(`media-node: invalid environment: ${error.message}\n`);
  process.exit(1);
}

const logger = pino({ level: config.logLevel, base: { role: 'media-node' } }, pino.destination(2));

/** Starts the agent with the engine that MEDIA_ENGINE names. */
async function startAgent(env: MediaNodeEnv, log: Logger): Promise<MediaAgent> {
  const { engineName, mediasoupListenIp, mediasoupAnnouncedIp, ...agentOptions } = env;
  if (engineName === 'simulated') {
    return startMediaAgent({ ...agentOptions, logger: log });
  }
  // Imported here, so that a simulated node never loads mediasoup.
  const { startMediasoupEngine } = await import('../media/mediasoup-engine.ts');
  const { registerMediasoupRoutes } = await import('../media/mediasoup-routes.ts');
  const engine = await startMediasoupEngine({
    nodeId: env.nodeId,
    capacity: env.capacity,
    listenIp: mediasoupListenIp,
    announcedIp: mediasoupAnnouncedIp,
    logger: log,
  });
  return startMediaAgent({
    ...agentOptions,
    logger: log,
    engine,
    controlRoutes: (app) => registerMediasoupRoutes(app, engine),
  });
}

let agent: MediaAgent;
try {
  agent = await startAgent(config, logger);
} catch (error) {
  logger.fatal({ err: error, host: config.host, port: config.port }, 'media node failed to start');
  process.stderr.write(
    `media-node: failed to start on ${config.host}:${config.port}: ${String(error)}\n`,
  );
  process.exit(1);
}

// With Kafka configured, this process publishes its own lifecycle events to stream.lifecycle.
let relay: LifecycleRelay | undefined;
let bus: Bus | undefined;
if (config.kafkaBrokers !== null) {
  bus = namespacedBus(
    createKafkaBus({
      brokers: config.kafkaBrokers,
      clientId: `media-node-${config.nodeId}`,
      logger,
    }),
    config.topicPrefix,
  );
  const source = agent.lifecycle;
  relay = new LifecycleRelay(
    {
      nodeId: agent.info.nodeId,
      wait: (after, limit, waitMs) => source.wait(after, limit, waitMs),
    },
    bus,
    logger.child({ component: 'lifecycle-relay' }),
  );
  relay.start();
}

process.stdout.write(`media-node ${agent.info.nodeId} listening ${agent.info.url}\n`);

let stopping = false;
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    // A second signal means the operator does not want to wait for the close.
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal }, 'media node stopping');
  try {
    await relay?.stop();
    await bus?.close();
    await agent.close();
  } catch (error) {
    logger.error({ err: error }, 'media node close failed');
    process.exitCode = 1;
  }
  logger.flush();
  // Exit now instead of waiting for the event loop to drain, which idle keep-alive sockets
  // from calls to other agents could delay.
  process.exit();
}

process.on('SIGTERM', (signal) => void stop(signal));
process.on('SIGINT', (signal) => void stop(signal));
