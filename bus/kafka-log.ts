/** Routes kafkajs's own log entries to pino, at the level the pino logger has. */
import kafkajs, { type logCreator, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';

const { logLevel } = kafkajs;

/** Returns the kafkajs level that passes the entries `logger` would print. */
export function kafkaLogLevel(logger: Logger): kafkajs.logLevel {
  if (logger.isLevelEnabled('debug')) {
    return logLevel.DEBUG;
  }
  if (logger.isLevelEnabled('info')) {
    return logLevel.INFO;
  }
  if (logger.isLevelEnabled('warn')) {
    return logLevel.WARN;
  }
  if (logger.isLevelEnabled('error')) {
    return logLevel.ERROR;
  }
  return logLevel.NOTHING;
}

export function pinoLogCreator(logger: Logger): logCreator {
  return () => (entry: LogEntry) => {
    // kafkajs puts its own timestamp in `log`, which is dropped because pino adds its own.
    const { message } = entry.log;
    const fields: Record<string, unknown> = { kafkajs: entry.namespace, ...entry.log };
    delete fields.message;
    delete fields.timestamp;
    switch (entry.level) {
      case logLevel.ERROR:
        logger.error(fields, message);
        break;
      case logLevel.WARN:
        logger.warn(fields, message);
        break;
      case logLevel.INFO:
        logger.info(fields, message);
        break;
      default:
        logger.debug(fields, message);
    }
  };
}
