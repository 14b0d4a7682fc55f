/**
 * Simulated media nodes as separate processes (bin/media-node.ts). With Kafka brokers given,
 * each node publishes its own lifecycle events to the `stream.lifecycle` topic under the topic
 * prefix, as media nodes do in the distributed mode.
 */
import { join } from 'node:path';
import type { MediaNodeInfo } from '../media/media-cluster.ts';
import { startChild, type RunningChild } from './child-process.ts';

export interface MediaNodeSpec {
  nodeId: string;
  region: string;
}

export interface MediaNodeProcess extends RunningChild {
  info: MediaNodeInfo;
}

export interface MediaNodeOptions {
  kafkaBrokers: string;
  topicPrefix: string;
  /** Maximum live streams of each node. */
  capacity: number;
  logDir: string;
}

export async function startMediaNodes(
  specs: readonly MediaNodeSpec[],
  options: MediaNodeOptions,
): Promise<MediaNodeProcess[]> {
  const started = await Promise.allSettled(specs.map((spec) => startMediaNode(spec, options)));
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = started.find((result) => result.status === 'rejected');
  if (failure !== undefined) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw failure.reason;
  }
  return nodes;
}

async function startMediaNode(
  spec: MediaNodeSpec,
  options: MediaNodeOptions,
): Promise<MediaNodeProcess> {
  const { child, match } = await startChild({
    name: `media node ${spec.nodeId}`,
    script: 'bin/media-node.ts',
    env: {
      ...process.env,
      NODE_ID: spec.nodeId,
      REGION: spec.region,
      PORT: '0',
      CAPACITY: String(options.capacity),
      LOG_LEVEL: 'warn',
      KAFKA_BROKERS: options.kafkaBrokers,
      TOPIC_PREFIX: options.topicPrefix,
    },
    logFile: join(options.logDir, `media-node-${options.topicPrefix}${spec.nodeId}.log`),
    readyLine: /^media-node (\S+) listening (http:\/\/\S+)$/,
    readyTimeoutMs: 60_000,
  });
  return { ...child, info: { nodeId: spec.nodeId, region: spec.region, url: match[2] ?? '' } };
}

/** `nodeId@region=url` entries, the service's MEDIA_NODE_URLS format. */
export function mediaNodeUrls(nodes: readonly MediaNodeProcess[]): string {
  return nodes.map(({ info }) => `${info.nodeId}@${info.region}=${info.url}`).join(',');
}
