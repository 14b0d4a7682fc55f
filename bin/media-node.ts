/**
 * Runs one media node agent with a simulated engine as its own process.
 *
 * Configuration: NODE_ID and REGION (required), HOST (127.0.0.1), PORT (0: a free port),
 * CAPACITY (maximum live streams, 10000), LOG_LEVEL (info). When ready it prints one line,
 * `media-node <nodeId> listening <url>`, to stdout, and logs go to stderr as pino JSON. SIGTERM or
 * SIGINT stops it with exit code 0. An invalid variable stops it with exit code 1 and a message
 * naming the variable.
 */
import { pino } from 'pino';

import { startMediaAgent } from '../media/agent.ts';
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

let agent: MediaAgent;
try {
  agent = await startMediaAgent({ ...config, logger });
} catch (error) {
  logger.fatal({ err: error, host: config.host, port: config.port }, 'media node failed to start');
  process.stderr.write(
    `media-node: failed to start on ${config.host}:${config.port}: ${String(error)}\n`,
  );
  process.exit(1);
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
