/**
 * Addresses of the shared test servers, for test files. test/infra/global-setup.ts starts the
 * servers once per vitest run and provides these values.
 */
import { inject, type ProvidedContext } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Kafka bootstrap servers, comma-separated `host:port` pairs. */
    kafkaBrokers: string;
    /** MongoDB connection string of the mongo-java-server instance. */
    mongodbUri: string;
  }
}

/** Returns the Kafka bootstrap servers, for example `127.0.0.1:40123`. */
export function kafkaBrokers(): string {
  return requireAddress('kafkaBrokers', 'TEST_KAFKA_BROKERS');
}

/** Returns the MongoDB connection string, for example `mongodb://127.0.0.1:40124/`. */
export function mongodbUri(): string {
  return requireAddress('mongodbUri', 'TEST_MONGODB_URI');
}

/** Returns the provided value, else the environment variable that the global setup also sets. */
function requireAddress(key: keyof ProvidedContext, envName: string): string {
  const value = inject(key) ?? process.env[envName];
  if (value) {
    return value;
  }
  throw new Error(
    `test server address '${key}' is missing: run the tests with vitest so that ` +
      `test/infra/global-setup.ts starts the servers, or set ${envName}`,
  );
}
