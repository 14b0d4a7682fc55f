/** Entry point of `npm start`: the whole service in one process. */
import { ConfigError, loadConfig } from './config.ts';
import { startRuntime } from './runtime.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  let runtime;
  try {
    runtime = await startRuntime(config);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(`port ${config.port} on ${config.host} is in use; set PORT to a free port`);
      process.exit(1);
    }
    throw error;
  }
  const shutdown = async (signal: string) => {
    runtime.logger.info({ signal }, 'fork service stopping');
    await runtime.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

await main();
