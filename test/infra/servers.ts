/**
 * Starts the real servers that integration tests run against, as child JVMs on loopback:
 * a single-node Apache Kafka broker in KRaft mode and a MongoDB wire-protocol server
 * (mongo-java-server). Their jars come from the cache that test/infra/fetch-servers.sh fills.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';

// Keep in step with test/infra/fetch-servers.sh, which fills these folders.
export const KAFKA_VERSION = '4.4.0';
export const MONGO_JAVA_SERVER_VERSION = '1.47.0';

const LOOPBACK = '127.0.0.1';
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MONGO_SERVER_SOURCE = fileURLToPath(new URL('./MongoServer.java', import.meta.url));
const LOG_TAIL_LINES = 40;
const execFileAsync = promisify(execFile);

export interface RunningServer {
  /** Server process id, for tests that kill the process to inject a fault. */
  pid: number;
  /** Server log: stderr, and for Kafka also stdout. stop() deletes it. */
  logFile: string;
  /** Stops the server (SIGTERM, then SIGKILL after stopTimeoutMs) and deletes its folder. */
  stop(): Promise<void>;
}

export interface KafkaServer extends RunningServer {
  /** Bootstrap servers in kafkajs and Kafka client form, for example `127.0.0.1:40123`. */
  brokers: string;
}

export interface MongoServer extends RunningServer {
  /** Connection string, for example `mongodb://127.0.0.1:40124/`. */
  uri: string;
}

export interface ServerOptions {
  /** Folder holding the fetched jars. Default: $FORK_SERVICE_CACHE, else `<repo>/.cache`. */
  cacheDir?: string;
  /** Maximum JVM heap, in java -Xmx syntax. */
  maxHeap?: string;
  /** How long to wait until the server serves requests, in milliseconds. */
  startTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before it sends SIGKILL, in milliseconds. */
  stopTimeoutMs?: number;
}

export interface KafkaOptions extends ServerOptions {
  /** Broker properties that override or extend the defaults of kafkaProperties(). */
  properties?: Record<string, string>;
}

export class ServerStartError extends Error {
  override name = 'ServerStartError';
}

/** Returns the folder that fetch-servers.sh fills. */
export function defaultCacheDir(): string {
  return process.env.FORK_SERVICE_CACHE ?? join(REPO_ROOT, '.cache');
}

export function kafkaJarsDir(cacheDir = defaultCacheDir()): string {
  return join(cacheDir, `kafka-${KAFKA_VERSION}`);
}

export function mongoJarsDir(cacheDir = defaultCacheDir()): string {
  return join(cacheDir, `mongo-java-server-${MONGO_JAVA_SERVER_VERSION}`);
}

/**
 * Starts a Kafka broker that is also its own KRaft controller, in a new temporary folder.
 * Resolves once an admin client can list topics and find the group coordinator, so the first
 * consumer group of a test does not wait for the offsets topic to be created.
 */
export async function startKafka(options: KafkaOptions = {}): Promise<KafkaServer> {
  // Another process can take a port between our probe and the broker's bind, so a bind
  // failure is retried with new ports.
  const maxAttempts = 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startKafkaOnce(options);
    } catch (error) {
      if (!(error instanceof PortInUseError) || attempt === maxAttempts) {
        throw error;
      }
    }
  }
}

class PortInUseError extends ServerStartError {
  override name = 'PortInUseError';
}

async function startKafkaOnce(options: KafkaOptions): Promise<KafkaServer> {
  const jarsDir = requireJars(kafkaJarsDir(options.cacheDir));
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const [brokerPort, controllerPort] = await findFreePortPair();
  const dataDir = await mkdtemp(join(tmpdir(), 'fork-service-kafka-'));
  const logFile = join(dataDir, 'server.log');

  const propertiesFile = join(dataDir, 'server.properties');
  const properties = {
    ...kafkaProperties(brokerPort, controllerPort, join(dataDir, 'log')),
    ...options.properties,
  };
  await writeFile(propertiesFile, formatProperties(properties));
  const log4jFile = join(dataDir, 'log4j2.properties');
  await writeFile(log4jFile, KAFKA_LOG4J2_PROPERTIES);

  const java = javaCommand();
  const jvmOptions = [
    `-Xmx${options.maxHeap ?? '512m'}`,
    `-Dlog4j2.configurationFile=${log4jFile}`,
    '-cp',
    join(jarsDir, '*'),
  ];

  let child: ChildProcess;
  try {
    await formatKafkaStorage(java, jvmOptions, propertiesFile);
    child = await spawnLogged(java, [...jvmOptions, 'kafka.Kafka', propertiesFile], logFile, false);
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }

  const brokers = `${LOOPBACK}:${brokerPort}`;
  const server: KafkaServer = {
    brokers,
    pid: requirePid(child),
    logFile,
    stop: stopOnce(child, dataDir, options.stopTimeoutMs ?? 20_000),
  };

  try {
    await waitForKafka(brokers, child, logFile, startTimeoutMs);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/**
 * Returns the broker configuration of a single node that is both broker and controller.
 * Internal topics get replication factor 1 and one partition, because there is one broker.
 */
export function kafkaProperties(
  brokerPort: number,
  controllerPort: number,
  logDir: string,
): Record<string, string> {
  return {
    'process.roles': 'broker,controller',
    'node.id': '1',
    listeners: `PLAINTEXT://${LOOPBACK}:${brokerPort},CONTROLLER://${LOOPBACK}:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://${LOOPBACK}:${brokerPort}`,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'controller.quorum.bootstrap.servers': `${LOOPBACK}:${controllerPort}`,
    'log.dirs': logDir,
    // Tests may produce to a topic they never created, as producers can in production.
    'auto.create.topics.enable': 'true',
    'num.partitions': '1',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'share.coordinator.state.topic.num.partitions': '1',
    // The default of 3 s delays the first rebalance of every new consumer group.
    'group.initial.rebalance.delay.ms': '0',
  };
}

// Console output goes to the log file of the process. Kafka's own default configuration
// also keeps the request logger at WARN, since at INFO it logs every request.
const KAFKA_LOG4J2_PROPERTIES = `status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = warn
`;

function formatProperties(properties: Record<string, string>): string {
  return Object.entries(properties)
    .map(([key, value]) => `${key}=${value}\n`)
    .join('');
}

/** Formats the data folder with a new cluster id, which Kafka requires before the first start. */
async function formatKafkaStorage(
  java: string,
  jvmOptions: string[],
  propertiesFile: string,
): Promise<void> {
  const args = [
    ...jvmOptions,
    // The tool runs for about a second, too short for C2 compilation or G1 threads to pay off.
    '-XX:TieredStopAtLevel=1',
    '-XX:+UseSerialGC',
    'kafka.tools.StorageTool',
    'format',
    '--standalone',
    '--cluster-id',
    newClusterId(),
    '--config',
    propertiesFile,
  ];
  try {
    await execFileAsync(java, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const failure = error as { code?: number | string; stdout?: string; stderr?: string };
    const reason = typeof failure.code === 'number' ? `exit code ${failure.code}` : failure.code;
    const output = tailLines(`${failure.stdout ?? ''}${failure.stderr ?? ''}`);
    throw new ServerStartError(
      `Kafka storage format (kafka.tools.StorageTool format) failed with ${reason ?? 'an error'}.` +
        ` Last lines of its output:\n${output}`,
      { cause: error },
    );
  }
}

/**
 * Returns a random cluster id in Kafka's form: 16 bytes in base64url without padding. An id that
 * starts with '-' is drawn again, because the command-line parser would take it for an option.
 */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) {
      return id;
    }
  }
}

async function waitForKafka(
  brokers: string,
  child: ChildProcess,
  logFile: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    await throwIfExited(child, 'Kafka', logFile);
    try {
      await probeKafka(brokers);
      return;
    } catch (error) {
      lastError = error;
    }
    await sleep(250);
  }

  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new ServerStartError(
    `Kafka at ${brokers} did not become ready within ${timeoutMs} ms (last error: ${reason}).\n` +
      `Last lines of ${logFile}:\n${await readLogTail(logFile)}`,
    { cause: lastError },
  );
}

/** Lists topics and looks up a group coordinator, each without retries. */
async function probeKafka(brokers: string): Promise<void> {
  const kafka = new kafkajs.Kafka({
    clientId: 'test-infra-readiness',
    brokers: [brokers],
    logLevel: kafkajs.logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
    // The coordinator lookup creates the offsets topic on first use.
    await admin.describeGroups(['test-infra-readiness']);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Starts mongo-java-server with the in-memory backend and the oplog enabled, on a free port.
 * Resolves once the server printed the address it is bound to.
 */
export async function startMongo(options: ServerOptions = {}): Promise<MongoServer> {
  const jarsDir = requireJars(mongoJarsDir(options.cacheDir));
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const dataDir = await mkdtemp(join(tmpdir(), 'fork-service-mongo-'));
  const logFile = join(dataDir, 'server.log');

  const args = [
    `-Xmx${options.maxHeap ?? '1g'}`,
    '-cp',
    join(jarsDir, '*'),
    MONGO_SERVER_SOURCE,
    '0',
  ];
  // Standard input stays an open pipe: MongoServer.java exits when it reaches end of file,
  // which also happens when this process dies without calling stop().
  let child: ChildProcess;
  try {
    child = await spawnLogged(javaCommand(), args, logFile, true);
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const stop = stopOnce(child, dataDir, options.stopTimeoutMs ?? 10_000);

  try {
    const port = await waitForListeningLine(child, logFile, startTimeoutMs);
    return { uri: `mongodb://${LOOPBACK}:${port}/`, pid: requirePid(child), logFile, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Waits for the `listening 127.0.0.1:<port>` line of MongoServer.java and returns the port.
 * The server writes only that line to stdout, while its log records go to stderr, so stdout
 * is not copied to the log file.
 */
function waitForListeningLine(
  child: ChildProcess,
  logFile: string,
  timeoutMs: number,
): Promise<number> {
  const stdout = child.stdout;
  if (stdout === null) {
    return Promise.reject(new Error('mongo-java-server was spawned without a stdout pipe'));
  }

  return new Promise<number>((resolve, reject) => {
    // The interface stays open after the match, so it keeps draining stdout.
    const lines = createInterface({ input: stdout });
    const fail = (reason: string) => {
      cleanUp();
      void readLogTail(logFile).then((tail) =>
        reject(
          new ServerStartError(`mongo-java-server ${reason}.\nLast lines of ${logFile}:\n${tail}`),
        ),
      );
    };
    const onLine = (line: string) => {
      const match = /^listening [\d.]+:(\d+)$/.exec(line);
      if (match?.[1] !== undefined) {
        cleanUp();
        resolve(Number(match[1]));
      }
    };
    const onExit = () => fail(`exited with ${describeExit(child)} before it printed its address`);
    const timer = setTimeout(
      () => fail(`did not print its address within ${timeoutMs} ms`),
      timeoutMs,
    );
    const cleanUp = () => {
      clearTimeout(timer);
      lines.off('line', onLine);
      child.off('exit', onExit);
    };

    lines.on('line', onLine);
    child.on('exit', onExit);
  });
}

// Children still running when Node exits without stop(), for example after an uncaught
// error in a test run, are killed here so no JVM outlives the run.
const runningChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Spawns a server with its stderr appended to logFile. With `pipes` set, stdin and stdout are
 * pipes to this process, else stdin is closed and stdout also goes to logFile. Rejects when the
 * command cannot be started, for example when java is not installed.
 */
async function spawnLogged(
  command: string,
  args: string[],
  logFile: string,
  pipes: boolean,
): Promise<ChildProcess> {
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    const stdio = pipes ? (['pipe', 'pipe', logFd] as const) : (['ignore', logFd, logFd] as const);
    child = spawn(command, args, { stdio: [...stdio] });
  } finally {
    closeSync(logFd);
  }

  try {
    await once(child, 'spawn');
  } catch (error) {
    throw new ServerStartError(`failed to start ${command}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  child.on('error', (error) => {
    console.error(`test server process ${child.pid} (${command}) reported an error:`, error);
  });

  runningChildren.add(child);
  child.once('exit', () => runningChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const running of runningChildren) {
        running.kill('SIGKILL');
      }
    });
  }
  return child;
}

function stopOnce(child: ChildProcess, dataDir: string, timeoutMs: number): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      await stopProcess(child, timeoutMs);
      await rm(dataDir, { recursive: true, force: true });
    })();
    return stopping;
  };
}

async function stopProcess(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (hasExited(child)) {
    return;
  }
  const exited = once(child, 'exit');
  child.stdin?.end();
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

async function throwIfExited(child: ChildProcess, name: string, logFile: string): Promise<void> {
  if (!hasExited(child)) {
    return;
  }
  const tail = await readLogTail(logFile);
  const message =
    `${name} exited with ${describeExit(child)} during start-up.\n` +
    `Last lines of ${logFile}:\n${tail}`;
  // Kafka logs a bind failure as a KafkaException caused by java.net.BindException.
  if (tail.includes('Address already in use')) {
    throw new PortInUseError(message);
  }
  throw new ServerStartError(message);
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function describeExit(child: ChildProcess): string {
  return child.signalCode !== null ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
}

function requirePid(child: ChildProcess): number {
  if (child.pid === undefined) {
    throw new ServerStartError(`failed to spawn ${child.spawnfile}: no process id`);
  }
  return child.pid;
}

function requireJars(jarsDir: string): string {
  if (!existsSync(join(jarsDir, 'SHA256SUMS'))) {
    throw new ServerStartError(
      `server jars not found in ${jarsDir}: run 'bash test/infra/fetch-servers.sh' first`,
    );
  }
  return jarsDir;
}

/** Returns $JAVA_HOME/bin/java when JAVA_HOME is set, else the java found on PATH. */
function javaCommand(): string {
  const javaHome = process.env.JAVA_HOME;
  return javaHome ? join(javaHome, 'bin', 'java') : 'java';
}

/**
 * Finds two distinct free loopback ports by binding port 0 twice. Both sockets stay open until
 * both ports are known, so the two cannot be the same port.
 */
async function findFreePortPair(): Promise<[number, number]> {
  const first = await listenOnFreePort();
  try {
    const second = await listenOnFreePort();
    const ports: [number, number] = [portOf(first), portOf(second)];
    await closeServer(second);
    return ports;
  } finally {
    await closeServer(first);
  }
}

async function listenOnFreePort(): Promise<Server> {
  const server = createServer();
  server.listen(0, LOOPBACK);
  await once(server, 'listening');
  return server;
}

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

async function readLogTail(logFile: string): Promise<string> {
  try {
    return tailLines(await readFile(logFile, 'utf8'));
  } catch (error) {
    return `(log file unreadable: ${(error as Error).message})`;
  }
}

function tailLines(text: string): string {
  return text.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
