/**
 * Writes REPORT.md from one run's results. Every number in it comes from the results; the
 * sentences around them are templates that name how each number was measured.
 */
import type { MachineFacts } from './machine.ts';
import { TARGETS, type BenchOptions } from './options.ts';
import type { DiffCostResult } from './scenarios/diff-cost.ts';
import type { ForkLatencyResult } from './scenarios/fork-latency.ts';
import type { HealLatencyResult } from './scenarios/heal-latency.ts';
import type { MemoryResult } from './scenarios/memory.ts';
import type { PollingBaselineResult } from './scenarios/polling-baseline.ts';
import type { ThroughputResult } from './scenarios/throughput.ts';
import { quantile, type Summary } from './stats.ts';

export interface BenchResults {
  options: BenchOptions;
  machine: MachineFacts;
  startedAt: Date;
  durationSeconds: number;
  loadAverage: { start: number; end: number };
  diff?: DiffCostResult;
  polling?: PollingBaselineResult;
  heal?: HealLatencyResult;
  fork?: ForkLatencyResult;
  throughput?: ThroughputResult;
  memory?: MemoryResult;
  /** File name of the heal latency chart beside the report, when one was drawn. */
  chartFile?: string;
}

export function renderReport(results: BenchResults): string {
  const sections = [
    header(results),
    results.heal && healSection(results, results.heal),
    results.polling && pollingSection(results, results.polling),
    results.fork && forkSection(results, results.fork),
    results.diff && diffSection(results, results.diff),
    results.throughput && throughputSection(results, results.throughput),
    results.memory && memorySection(results, results.memory),
    limitsSection(results),
  ];
  return `${sections.filter((section) => section !== undefined).join('\n\n')}\n`;
}

function header(results: BenchResults): string {
  const { machine, options } = results;
  return [
    '# Fork service benchmark',
    '',
    `Written by \`${options.commandLine}\` from the run below; every run rewrites this file and ` +
      `the chart beside it.${options.smoke ? ' This is a smoke run: its sizes are tiny, so its numbers only show that the bench works.' : ''}`,
    '',
    table(
      ['', ''],
      [
        ['command line', `\`${options.commandLine}\``],
        ['date', results.startedAt.toISOString()],
        ['machine', machineLine(machine)],
        ['CPU', machine.cpuModel],
        [
          '1-minute load average at start and end',
          `${results.loadAverage.start.toFixed(2)} and ${results.loadAverage.end.toFixed(2)}`,
        ],
        ['run time', `${results.durationSeconds.toFixed(0)} s`],
        ['code', machine.source],
        [
          'servers',
          `Node.js ${machine.nodeVersion}; Apache Kafka ${machine.kafkaVersion}, one broker in ` +
            `KRaft mode; mongo-java-server ${machine.mongoJavaServerVersion} with its in-memory ` +
            'backend; three simulated media nodes (bin/media-node.ts), each its own process ' +
            'publishing its lifecycle events to Kafka',
        ],
        ['random seed', String(options.seed)],
      ],
    ),
    '',
    'Every process runs on this one machine: the service under test (bench/service-main.ts, ' +
      'its own process), the media nodes, both servers and the bench, which generates the load.',
  ].join('\n');
}

function runLine(results: BenchResults): string {
  return (
    `Run: \`${results.options.commandLine}\` on ${machineLine(results.machine)}, ` +
    `${results.startedAt.toISOString()}.`
  );
}

function machineLine(machine: MachineFacts): string {
  return `${machine.cores} cores, ${gib(machine.memoryBytes)} memory`;
}

function healSection(results: BenchResults, heal: HealLatencyResult): string {
  const { sizes } = heal;
  return [
    '## 1. Heal latency, event-driven',
    '',
    runLine(results),
    '',
    `${plural(sizes.destinations, 'channel')} each received a fork of a ${sizes.membersPerDestination}-member ` +
      `source with two streams per member (${integer(heal.mirrors)} mirrors). The bench then ended ` +
      `${integer(heal.ended)} of those mirrors at their media nodes, at uniformly random moments over ` +
      `${seconds(sizes.spreadMs)}, and read the MirrorHealed events from fork.events. Each ` +
      "latency is the event's `durationMs`: the service's time of the member write that points " +
      "at the replacement, minus the media node's time of the stream-ended event.",
    '',
    summaryTable([['event-driven heals', heal.summary]]),
    '',
    `${heal.unhealed} of ${integer(heal.ended)} ended mirrors had no MirrorHealed event within ` +
      `${seconds(sizes.settleTimeoutMs)} after the last end.`,
  ].join('\n');
}

function pollingSection(results: BenchResults, polling: PollingBaselineResult): string {
  const { sizes } = polling;
  const heal = results.heal;
  const rows: [string, Summary][] = [];
  if (heal) {
    rows.push(['event-driven (section 1)', heal.summary]);
  }
  rows.push([`polling every ${seconds(sizes.pollIntervalMs)}`, polling.summary]);
  const lines = [
    '## 2. Heal latency, polling baseline',
    '',
    runLine(results),
    '',
    'A second service ran without automatic healing: bin/runtime.ts with `healing: false` composes the ' +
      'service like bin/runtime.ts but leaves out the trigger planner, while the stream router ' +
      'still marks ended mirrors in the store. It had its own media nodes, topic prefix and ' +
      'database; the event-driven service of the other sections was running, idle, at the ' +
      `same time. ${plural(sizes.destinations, 'channel')} received a fork of a ` +
      `${sizes.membersPerDestination}-member source with two streams per member ` +
      `(${integer(polling.mirrors)} mirrors). A client forked every channel with \`refresh-stale\` every ` +
      `${seconds(sizes.pollIntervalMs)} while the bench ended ${integer(polling.ended)} mirrors at ` +
      `uniformly random moments over ${seconds(sizes.windowMs)}. Each latency is the member ` +
      "record's `lastUpdate` once it points at live streams only, minus the media node's time " +
      "of the stream-ended event, read from the node's lifecycle log.",
    '',
    summaryTable(rows),
    '',
  ];
  if (heal) {
    lines.push(
      `Ratio of medians, polling to event-driven: **${ratio(polling.summary.p50, heal.summary.p50)}**.`,
      '',
    );
  }
  if (results.chartFile) {
    lines.push(
      `![Cumulative distributions of heal latency](${results.chartFile})`,
      '',
      `[${results.chartFile}](${results.chartFile}) plots both series as cumulative distributions.`,
      '',
    );
  }
  lines.push(
    `${polling.unhealed} of ${integer(polling.ended)} ended mirrors were still not replaced when polling ` +
      `stopped. The polling forks took ${ms(quantile(polling.pollForkMs, 0.5))} at the median ` +
      `(${polling.pollForkMs.length} forks).`,
  );
  return lines.join('\n');
}

function forkSection(results: BenchResults, fork: ForkLatencyResult): string {
  const { sizes } = fork;
  return [
    '## 3. Fork latency',
    '',
    runLine(results),
    '',
    `A source channel of ${integer(sizes.members)} members with ${sizes.streamsPerMember} streams each ` +
      `was forked into a new, empty channel ${sizes.repetitions} times, one fork at a time. Each ` +
      'latency runs from sending `PUT /pcast/channel/:id/fork/:source` to its reply, which ' +
      'comes once every member has joined with its mirrors.',
    '',
    table(
      ['forks', 'mirrors per fork', 'p50', 'p99', 'max', 'mirrors per second at p50'],
      [
        [
          integer(fork.summary.count),
          String(sizes.members * sizes.streamsPerMember),
          ms(fork.summary.p50),
          ms(fork.summary.p99),
          ms(fork.summary.max),
          fork.mirrorsPerSecondAtMedian.toFixed(0),
        ],
      ],
    ),
    '',
    `With ${fork.summary.count} samples, p99 is the largest sample (nearest-rank method).`,
    '',
    'CPU time that each process used during the timed forks:',
    '',
    cpuTable(fork.cpu),
  ].join('\n');
}

function diffSection(results: BenchResults, diff: DiffCostResult): string {
  const { sizes } = diff;
  return [
    '## 4. Diff cost',
    '',
    runLine(results),
    '',
    `Two channels of ${integer(sizes.members)} members each share half of their sessions; every member ` +
      'has two streams. processors/planner.ts `planFork` indexes both rooms by session. The ' +
      "baseline (bench/scan-planner.ts) makes the same plan but finds each member's match by " +
      "scanning the other room's member list; the bench checks that both plans are equal. " +
      `Times are the median of ${plural(sizes.runs, 'run')} after one warm-up run, in the bench process, ` +
      `with no I/O. The plan has ${integer(diff.joins)} joins and ${integer(diff.departures)} departures.`,
    '',
    table(
      ['members per room', 'planner', 'scan baseline', 'baseline / planner'],
      [
        [
          integer(sizes.members),
          ms(diff.plannerMs),
          ms(diff.scanMs),
          ratio(diff.scanMs, diff.plannerMs),
        ],
      ],
    ),
    '',
    'The planner as the rooms grow (same shape):',
    '',
    table(
      ['members per room', 'planner'],
      diff.growth.map((point) => [integer(point.members), ms(point.plannerMs)]),
    ),
  ].join('\n');
}

function throughputSection(results: BenchResults, throughput: ThroughputResult): string {
  const { sizes } = throughput;
  return [
    '## 5. Heal throughput',
    '',
    runLine(results),
    '',
    `The bench created ${integer(sizes.destinations)} channels with ${sizes.mirrorsPerDestination} ` +
      `mirrored members each (${integer(throughput.mirrors)} mirrors) directly in the service's database ` +
      "and on the media nodes, with the executor's own StreamOperations, because forks through " +
      `the REST API would not fit the run's time (bench/seed.ts; it took ` +
      `${throughput.seedSeconds.toFixed(0)} s). It then ended every mirror as fast as 64 ` +
      `concurrent calls to the media nodes allowed and counted MirrorHealed events over a ` +
      `${seconds(sizes.windowMs)} window from the first end. Before the first end it waited ` +
      "until the service's consumers had no lag, so the window starts with an idle service.",
    '',
    table(
      [
        'mirrors ended',
        'time to end them',
        'heals in window',
        'sustained heals per second',
        'heals per second, whole window',
        'heal latency p50',
        'heal latency p99',
      ],
      [
        [
          integer(throughput.ended),
          `${throughput.endSeconds.toFixed(1)} s`,
          integer(throughput.healedInWindow),
          throughput.sustainedHealsPerSecond.toFixed(1),
          throughput.windowHealsPerSecond.toFixed(1),
          ms(throughput.latency.p50),
          ms(throughput.latency.p99),
        ],
      ],
    ),
    '',
    'The sustained rate leaves out the first part of the window (10 s, or a third of a shorter ' +
      'window) while the ends fill the pipeline. Heal latency here includes the time each end ' +
      'waited in the backlog.',
    '',
    "Consumer lag of the service's groups at the end of the window (messages not yet committed, " +
      'read from the broker):',
    '',
    table(
      ['consumer group', 'lag'],
      throughput.lag.map((group) => [group.groupId, String(group.lag)]),
    ),
    '',
    'CPU time that each process used during the window:',
    '',
    cpuTable(throughput.cpu),
    '',
    `The service's resident memory at the end of the window was ` +
      `${mib(throughput.serviceMemory.rssBytes)} (peak ${mib(throughput.serviceMemory.peakRssBytes)}).`,
    '',
    throughput.drainSeconds === null
      ? `The service still lagged ${seconds(sizes.drainTimeoutMs)} after the window, when the ` +
        'bench stopped waiting.'
      : `The service had no lag ${throughput.drainSeconds.toFixed(1)} s after the last end.`,
  ].join('\n');
}

function memorySection(results: BenchResults, memory: MemoryResult): string {
  const { sizes } = memory;
  return [
    '## 6. Memory',
    '',
    runLine(results),
    '',
    `The service's database held ${integer(memory.counted.rooms)} channels and ${integer(memory.counted.members)} ` +
      `members when memory was read (target: ${integer(sizes.destinations)} and ${integer(sizes.members)}). The ` +
      `bench seeded ${integer(memory.seededRooms)} channels with ${integer(memory.seededMembers)} members in ` +
      'total; seeded members carry origin streams without mirrors, so the media nodes hold ' +
      'only the streams of the earlier scenarios. ' +
      (memory.newService
        ? 'A new service process, started after the throughput scenario so that its backlog ' +
          'would not run during the measurement, '
        : 'The service ') +
      `then forked a source into ${memory.noopForks.count} seeded channels; all members were ` +
      `already there, so each fork only read both rooms: p50 ${ms(memory.noopForks.p50)}, ` +
      `p99 ${ms(memory.noopForks.p99)}.`,
    '',
    table(
      ['process', 'resident memory (RSS)', 'peak RSS'],
      memory.processes.map((entry) => [entry.name, mib(entry.rssBytes), mib(entry.peakRssBytes)]),
    ),
    '',
    `Live streams per media node: ${memory.liveStreams
      .map((node) => `${node.nodeId} ${integer(node.live)}`)
      .join(', ')}.`,
    '',
    'Peak RSS covers the whole life of each process' +
      (results.diff
        ? `, so the bench's includes the diff scenario, which builds rooms of up to ` +
          `${integer(Math.max(...results.diff.growth.map((point) => point.members)))} members ` +
          'in memory.'
        : '.'),
  ].join('\n');
}

function limitsSection(results: BenchResults): string {
  return [
    '## What these numbers are not',
    '',
    '- MongoDB is mongo-java-server with its in-memory backend, which the tests use because ' +
      'MongoDB is in no package registry this project can reach. Its memory backend ships only ' +
      'a unique index (MemoryUniqueIndex), so queries on other fields, such as members by room ' +
      'or mirrors by origin, scan the collection, and they slow down as the database grows. ' +
      "Store times here are not MongoDB's.",
    '- The media nodes are simulated: they keep stream state and carry no media, so their ' +
      'memory and CPU are those of the control plane only.',
    '- Every process shares one machine, and the load average above shows other work on it. ' +
      'Compare numbers from one run with each other rather than with numbers from another run.',
    ...scaledNotes(results),
  ].join('\n');
}

/** Lists where this run fell short of the scenarios' targets, and why where it is known. */
function scaledNotes(results: BenchResults): string[] {
  if (results.options.smoke) {
    return [];
  }
  const notes: string[] = [];
  const { heal, polling, fork, throughput, memory } = results;
  const notIdle = [
    heal && !heal.startedIdle && 'heal latency',
    polling && !polling.startedIdle && 'polling baseline',
    fork && !fork.startedIdle && 'fork latency',
    throughput && !throughput.startedIdle && 'throughput',
  ].filter((name) => typeof name === 'string');
  if (notIdle.length > 0) {
    notes.push(
      `- The service still lagged behind its setup when these measurements began: ` +
        `${notIdle.join(', ')}.`,
    );
  }
  if (throughput && throughput.mirrors < TARGETS.throughputMirrors) {
    const perSecond = throughput.mirrors / throughput.seedSeconds;
    notes.push(
      `- Throughput ran with ${integer(throughput.mirrors)} mirrors in ${integer(throughput.sizes.destinations)} ` +
        `destinations, not ${integer(TARGETS.throughputMirrors)} in ${integer(TARGETS.throughputDestinations)}, to ` +
        `keep the run under ten minutes: the bench created ${perSecond.toFixed(0)} mirrors per ` +
        `second, so ${integer(TARGETS.throughputMirrors)} would have taken an estimated ` +
        `${(TARGETS.throughputMirrors / perSecond).toFixed(0)} s of setup alone.`,
    );
  }
  if (memory && memory.counted.members < memory.sizes.members) {
    notes.push(
      `- Memory: the database held ${integer(memory.counted.members)} members, short of the target of ` +
        `${integer(memory.sizes.members)}.`,
    );
  }
  if (results.durationSeconds > 600) {
    notes.push(`- This run took ${results.durationSeconds.toFixed(0)} s, more than ten minutes.`);
  }
  return notes;
}

function summaryTable(rows: [string, Summary][]): string {
  return table(
    ['series', 'heals', 'p50', 'p90', 'p99', 'max'],
    rows.map(([label, summary]) => [
      label,
      String(summary.count),
      ms(summary.p50),
      ms(summary.p90),
      ms(summary.p99),
      ms(summary.max),
    ]),
  );
}

function cpuTable(cpu: { name: string; cpuSeconds: number }[]): string {
  return table(
    ['process', 'CPU seconds'],
    cpu.map((entry) => [entry.name, entry.cpuSeconds.toFixed(1)]),
  );
}

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

function ms(value: number): string {
  if (!Number.isFinite(value)) {
    return 'n/a';
  }
  if (value >= 10_000) {
    return `${(value / 1000).toFixed(1)} s`;
  }
  return value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`;
}

function seconds(valueMs: number): string {
  return `${(valueMs / 1000).toFixed(valueMs % 1000 === 0 ? 0 : 1)} s`;
}

function ratio(numerator: number, denominator: number): string {
  if (!Number.isFinite(numerator) || !Number.isFinite(denominator) || denominator <= 0) {
    return 'n/a';
  }
  const value = numerator / denominator;
  return `${value >= 10 ? value.toFixed(0) : value.toFixed(1)}×`;
}

function plural(count: number, noun: string): string {
  return `${integer(count)} ${noun}${count === 1 ? '' : 's'}`;
}

/** Formats a count with thousands separators, as in 10,000. */
function integer(value: number): string {
  return value.toLocaleString('en-US');
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}
