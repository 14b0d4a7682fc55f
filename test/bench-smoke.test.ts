/**
 * Runs `npm run bench -- --smoke` on the suite's Kafka broker and MongoDB wire server, so that a
 * change which breaks the benchmark fails the tests instead of the next benchmark run.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, onTestFinished, test } from 'vitest';
import { kafkaBrokers, mongodbUri } from './infra/env.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

test('bench smoke run writes report and chart', { timeout: 120_000 }, async () => {
  const outDir = await mkdtemp(join(tmpdir(), 'bench-smoke-test-'));
  onTestFinished(() => rm(outDir, { recursive: true, force: true }));

  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/run.ts', '--smoke', '--out', outDir],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, TEST_KAFKA_BROKERS: kafkaBrokers(), TEST_MONGODB_URI: mongodbUri() },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const started = performance.now();
  const [code] = (await once(child, 'exit')) as [number | null];
  const seconds = (performance.now() - started) / 1000;

  expect(code, output).toBe(0);
  expect(seconds, 'smoke run time in seconds').toBeLessThan(60);
  const report = await readFile(join(outDir, 'REPORT.md'), 'utf8');
  for (const heading of [
    '## 1. Heal latency, event-driven',
    '## 2. Heal latency, polling baseline',
    '## 3. Fork latency',
    '## 4. Diff cost',
    '## 5. Heal throughput',
    '## 6. Memory',
  ]) {
    expect(report).toContain(heading);
  }
  expect(report).toContain('Ratio of medians, polling to event-driven');
  expect(report).not.toContain('n/a');
  const chart = await readFile(join(outDir, 'heal-latency-cdf.png'));
  expect(chart.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
});
