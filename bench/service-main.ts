/**
 * Runs the fork service under test as its own process, so that its resident memory and CPU are
 * its own and not the bench's. The service reads the usual variables (KAFKA_BROKERS,
 * MONGODB_URI, MEDIA_NODE_URLS, APPLICATIONS, PORT, LOG_LEVEL, FORK_TIMEOUT_MS), and three more:
 *
 * - BENCH_MODE: `event-driven` runs bin/runtime.ts as `npm start` does; `polling` runs the
 *   service without automatic healing (the runtime's `healing: false`).
 * - BENCH_TOPIC_PREFIX: prefix of topics and consumer groups, so both modes share one broker.
 * - BENCH_DB_NAME: MongoDB database name.
 *
 * When ready it prints `bench-service listening <url>` to stdout. SIGTERM stops it.
 */
import { pino } from 'pino';
import { loadConfig } from '../bin/config.ts';
import { startRuntime } from '../bin/runtime.ts';

const mode = process.env.BENCH_MODE;
const topicPrefix = process.env.BENCH_TOPIC_PREFIX ?? '';
const mongoDbName = process.env.BENCH_DB_NAME ?? 'fork_bench';
if (mode !== 'event-driven' && mode !== 'polling') {
  process.stderr.write(
    `invalid BENCH_MODE=${JSON.stringify(mode)}: expected event-driven or polling\n`,
  );
  process.exit(1);
}

const config = loadConfig();
const logger = pino({ level: config.logLevel }, pino.destination(2));
const service = await startRuntime(config, {
  logger,
  topicPrefix,
  mongoDbName,
  healing: mode === 'event-driven',
});
process.stdout.write(`bench-service listening ${service.url}\n`);

let stopping = false;
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal }, 'bench service stopping');
  try {
    await service.stop();
  } catch (error) {
    logger.error({ err: error }, 'bench service stop failed');
    process.exitCode = 1;
  }
  logger.flush();
  // Idle keep-alive sockets of the media node client could otherwise delay the exit.
  process.exit();
}

process.on('SIGTERM', (signal) => void stop(signal));
process.on('SIGINT', (signal) => void stop(signal));
