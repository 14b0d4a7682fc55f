import { describe, expect, it } from 'vitest';

import { parseStreamUri } from '../domain/stream-uri.ts';
import type { ForkOption, Member, Room, RoomType, Stream, StreamState } from '../domain/types.ts';
import type { ForkPlan, ForkPlanInput } from '../processors/fork-plan.ts';
import { mirrorStreamId } from '../processors/mirror-ids.ts';
import { planFork } from '../processors/planner.ts';

const DEST_ID = 'us-east#app#dest.AAAAAAAAAAAA';
const SOURCE_ID = 'us-east#app#source.BBBBBBBBBBBB';
const FORK_ID = 'fork-1';

// ---------------------------------------------------------------------------------------------
// Fixtures

function makeRoom(roomId: string, alias: string, type: RoomType): Room {
  return {
    roomId,
    applicationId: 'app',
    alias,
    name: alias,
    description: '',
    type,
    options: [],
    streamKey: 'k'.repeat(96),
    created: 1,
    lastUpdate: 1,
  };
}

function origin(name: string): string {
  return `us-east#node-1#${name}`;
}

function destStream(name: string): string {
  return `us-east#node-2#${name}`;
}

function uriOf(streamId: string): string {
  return `pcast://h.example/${streamId}?capabilities=x`;
}

function makeMember(roomId: string, sessionId: string, streamIds: string[]): Member {
  return {
    roomId,
    sessionId,
    screenName: `screen-${sessionId}`,
    role: 'Presenter',
    state: 'Active',
    streams: streamIds.map((id, index) => ({
      uri: uriOf(id),
      type: index === 0 ? 'User' : 'Presentation',
      audioState: 'TRACK_ENABLED',
      videoState: index === 0 ? 'TRACK_ENABLED' : 'TRACK_DISABLED',
    })),
    lastUpdate: 1,
  };
}

function makeStream(streamId: string, state: StreamState, upstreamId: string | null): Stream {
  return {
    streamId,
    sessionId: 'owner',
    node: 'node-1',
    region: 'us-east',
    state,
    endReason: state === 'ended' ? 'ended' : null,
    capabilities: [],
    tags: [],
    upstreamId,
    roomId: upstreamId === null ? null : DEST_ID,
    createdBy: upstreamId === null ? null : 'fork-0',
    created: 1,
    ended: state === 'ended' ? 2 : null,
  };
}

interface Scenario {
  name: string;
  sourceMembers: Member[];
  destinationMembers: Member[];
  streams: Stream[];
}

/**
 * Members in both rooms: B (healthy mirror), C (one live mirror, one ended, one live mirror of
 * an origin it no longer publishes), E (mirror record missing), G (mirror ending). A is only in
 * the destination and F only in the source. The two rooms list the members in different orders.
 */
const OVERLAPPING: Scenario = {
  name: 'overlapping',
  sourceMembers: [
    makeMember(SOURCE_ID, 'F', [origin('f-cam')]),
    makeMember(SOURCE_ID, 'C', [origin('c-cam'), origin('c-screen')]),
    makeMember(SOURCE_ID, 'B', [origin('b-cam')]),
    makeMember(SOURCE_ID, 'E', [origin('e-cam')]),
    makeMember(SOURCE_ID, 'G', [origin('g-cam')]),
  ],
  destinationMembers: [
    makeMember(DEST_ID, 'A', [destStream('a-cam'), destStream('a-mic')]),
    makeMember(DEST_ID, 'B', [destStream('mB-cam')]),
    makeMember(DEST_ID, 'C', [destStream('mC-cam'), destStream('mC-screen'), destStream('mC-old')]),
    makeMember(DEST_ID, 'E', [destStream('mE-cam')]),
    makeMember(DEST_ID, 'G', [destStream('mG-cam')]),
  ],
  streams: [
    ...['f-cam', 'c-cam', 'c-screen', 'b-cam', 'e-cam', 'g-cam'].map((name) =>
      makeStream(origin(name), 'started', null),
    ),
    makeStream(destStream('a-cam'), 'started', null),
    makeStream(destStream('a-mic'), 'started', null),
    makeStream(destStream('mB-cam'), 'started', origin('b-cam')),
    makeStream(destStream('mC-cam'), 'started', origin('c-cam')),
    makeStream(destStream('mC-screen'), 'ended', origin('c-screen')),
    makeStream(destStream('mC-old'), 'started', origin('c-old')),
    makeStream(destStream('mG-cam'), 'ending', origin('g-cam')),
  ],
};

const DISJOINT: Scenario = {
  name: 'disjoint',
  sourceMembers: [
    makeMember(SOURCE_ID, 'F', [origin('f-cam')]),
    makeMember(SOURCE_ID, 'K', [origin('k-cam'), origin('k-screen')]),
  ],
  destinationMembers: [
    makeMember(DEST_ID, 'A', [destStream('a-cam')]),
    makeMember(DEST_ID, 'H', [destStream('h-cam')]),
  ],
  streams: [
    makeStream(origin('f-cam'), 'started', null),
    makeStream(origin('k-cam'), 'started', null),
    makeStream(origin('k-screen'), 'starting', null),
    makeStream(destStream('a-cam'), 'started', null),
    makeStream(destStream('h-cam'), 'ended', null),
  ],
};

const BOTH_EMPTY: Scenario = {
  name: 'both-empty',
  sourceMembers: [],
  destinationMembers: [],
  streams: [],
};

const SOURCE_EMPTY: Scenario = {
  name: 'source-empty',
  sourceMembers: [],
  destinationMembers: [
    makeMember(DEST_ID, 'A', [destStream('a-cam')]),
    makeMember(DEST_ID, 'B', [destStream('mB-cam')]),
  ],
  streams: [
    makeStream(destStream('a-cam'), 'started', null),
    makeStream(destStream('mB-cam'), 'ended', origin('b-cam')),
  ],
};

const DESTINATION_EMPTY: Scenario = {
  name: 'destination-empty',
  sourceMembers: [
    makeMember(SOURCE_ID, 'F', [origin('f-cam')]),
    makeMember(SOURCE_ID, 'B', [origin('b-cam')]),
  ],
  destinationMembers: [],
  streams: [
    makeStream(origin('f-cam'), 'started', null),
    makeStream(origin('b-cam'), 'started', null),
  ],
};

const SCENARIOS = [OVERLAPPING, DISJOINT, BOTH_EMPTY, SOURCE_EMPTY, DESTINATION_EMPTY];

const TABLE_FLAGS = ['additive', 'force', 'keep-streams', 'refresh-stale'] as const;

/** All 16 subsets of the four flags that change the plan. */
const FLAG_COMBINATIONS: ForkOption[][] = Array.from({ length: 16 }, (_, mask) =>
  TABLE_FLAGS.filter((_, bit) => (mask & (1 << bit)) !== 0),
);

function makeInput(
  scenario: Scenario,
  options: ForkOption[],
  overrides: {
    forkId?: string;
    destinationType?: RoomType;
    streamTags?: string[];
    streamCapabilities?: string[];
  } = {},
): ForkPlanInput {
  return {
    request: {
      forkId: overrides.forkId ?? FORK_ID,
      roomId: DEST_ID,
      sourceRoomId: SOURCE_ID,
      streamCapabilities: overrides.streamCapabilities ?? ['hd'],
      streamTags: overrides.streamTags ?? ['t1'],
      options,
      desiredRegion: 'eu-west',
    },
    destination: {
      room: makeRoom(DEST_ID, 'dest', overrides.destinationType ?? 'MultiPartyChat'),
      members: scenario.destinationMembers,
    },
    source: {
      room: makeRoom(SOURCE_ID, 'source', 'MultiPartyChat'),
      members: scenario.sourceMembers,
    },
    streams: new Map(scenario.streams.map((stream) => [stream.streamId, stream])),
  };
}

// ---------------------------------------------------------------------------------------------
// Reference oracle: follows the fork rules step by step, with plain arrays and linear scans.

type StreamOutcome = { kept: string } | { mirrorOf: string };

interface Outcome {
  departures: { sessionId: string; destroyStreamIds: string[] }[];
  staleRefreshes: { sessionId: string; destroyStreamIds: string[] }[];
  joins: { sessionId: string; streams: StreamOutcome[]; replacedStreamIds: string[] }[];
}

function idOfUri(uri: string): string {
  const parsed = parseStreamUri(uri);
  if (parsed === undefined) {
    throw new Error(`fixture URI ${uri} does not parse`);
  }
  return parsed.streamId;
}

function oracle(input: ForkPlanInput): Outcome {
  const has = (option: ForkOption): boolean => input.request.options.includes(option);
  const destinationIds = input.destination.members.map((member) => member.sessionId);
  const sourceIds = input.source.members.map((member) => member.sessionId);
  const inSource = (id: string): boolean => sourceIds.includes(id);
  const inDestination = (id: string): boolean => destinationIds.includes(id);
  const destinationMember = (id: string): Member | undefined =>
    input.destination.members.find((member) => member.sessionId === id);
  const isStaleId = (streamId: string): boolean => {
    const record = input.streams.get(streamId);
    return record === undefined || record.state === 'ending' || record.state === 'ended';
  };

  // Departing starts as the destination members and joining as the source members.
  let departing = [...destinationIds];
  let joining = [...sourceIds];

  // additive: departing keeps only members also present in the source.
  if (has('additive')) {
    departing = departing.filter(inSource);
  }

  // Unless force: members present in both rooms neither depart nor join.
  if (!has('force')) {
    departing = departing.filter((id) => !inSource(id));
    joining = joining.filter((id) => !inDestination(id));
  }

  // refresh-stale: stale destination streams of members in both rooms, and a join for each.
  const staleRefreshes: Outcome['staleRefreshes'] = [];
  if (has('refresh-stale')) {
    for (const id of sourceIds.filter(inDestination)) {
      const destination = destinationMember(id);
      const staleIds = (destination?.streams ?? []).map((s) => idOfUri(s.uri)).filter(isStaleId);
      if (staleIds.length > 0) {
        staleRefreshes.push({ sessionId: id, destroyStreamIds: staleIds });
        if (!joining.includes(id)) {
          joining.push(id);
        }
      }
    }
  }
  joining = sourceIds.filter((id) => joining.includes(id));

  // A member that both departs and joins is replaced in place, so it is planned as a join only.
  const departures = departing
    .filter((id) => !joining.includes(id))
    .map((id) => ({
      sessionId: id,
      destroyStreamIds: has('keep-streams')
        ? []
        : (destinationMember(id)?.streams ?? []).map((s) => idOfUri(s.uri)),
    }));

  const joins = joining.map((id) => {
    const sourceMember = input.source.members.find((member) => member.sessionId === id);
    const destination = destinationMember(id);
    const streams: StreamOutcome[] = (sourceMember?.streams ?? []).map((stream) => {
      const originId = idOfUri(stream.uri);
      if (!has('force') && destination !== undefined) {
        const liveMirror = destination.streams.find((candidate) => {
          const candidateId = idOfUri(candidate.uri);
          return !isStaleId(candidateId) && input.streams.get(candidateId)?.upstreamId === originId;
        });
        if (liveMirror !== undefined) {
          return { kept: liveMirror.uri };
        }
      }
      return { mirrorOf: originId };
    });
    const keptIds = streams.flatMap((s) => ('kept' in s ? [idOfUri(s.kept)] : []));
    const refreshedIds =
      staleRefreshes.find((refresh) => refresh.sessionId === id)?.destroyStreamIds ?? [];
    const replacedStreamIds = (destination?.streams ?? [])
      .map((s) => idOfUri(s.uri))
      .filter((streamId) => !keptIds.includes(streamId) && !refreshedIds.includes(streamId));
    return { sessionId: id, streams, replacedStreamIds };
  });

  return { departures, staleRefreshes, joins };
}

function outcomeOf(plan: ForkPlan): Outcome {
  return {
    departures: plan.departures,
    staleRefreshes: plan.staleRefreshes,
    joins: plan.joins.map((join) => ({
      sessionId: join.sessionId,
      streams: join.member.streams.map((stream) =>
        stream.mirror === undefined
          ? { kept: stream.uri }
          : { mirrorOf: stream.mirror.originStreamId },
      ),
      replacedStreamIds: join.replacedStreamIds,
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Hand-written outcomes for the overlapping rooms, which check the oracle as well as the planner.

const DEPART_A = {
  sessionId: 'A',
  destroyStreamIds: [destStream('a-cam'), destStream('a-mic')],
};
const JOIN_F = { sessionId: 'F', streams: [{ mirrorOf: origin('f-cam') }], replacedStreamIds: [] };
const STALE_REFRESHES = [
  { sessionId: 'C', destroyStreamIds: [destStream('mC-screen')] },
  { sessionId: 'E', destroyStreamIds: [destStream('mE-cam')] },
  { sessionId: 'G', destroyStreamIds: [destStream('mG-cam')] },
];

const HAND_ROWS: { options: ForkOption[]; outcome: Outcome }[] = [
  {
    options: [],
    outcome: { departures: [DEPART_A], staleRefreshes: [], joins: [JOIN_F] },
  },
  {
    options: ['keep-streams'],
    outcome: {
      departures: [{ sessionId: 'A', destroyStreamIds: [] }],
      staleRefreshes: [],
      joins: [JOIN_F],
    },
  },
  {
    options: ['additive'],
    outcome: { departures: [], staleRefreshes: [], joins: [JOIN_F] },
  },
  {
    options: ['force'],
    outcome: {
      departures: [DEPART_A],
      staleRefreshes: [],
      joins: [
        JOIN_F,
        {
          sessionId: 'C',
          streams: [{ mirrorOf: origin('c-cam') }, { mirrorOf: origin('c-screen') }],
          replacedStreamIds: [destStream('mC-cam'), destStream('mC-screen'), destStream('mC-old')],
        },
        {
          sessionId: 'B',
          streams: [{ mirrorOf: origin('b-cam') }],
          replacedStreamIds: [destStream('mB-cam')],
        },
        {
          sessionId: 'E',
          streams: [{ mirrorOf: origin('e-cam') }],
          replacedStreamIds: [destStream('mE-cam')],
        },
        {
          sessionId: 'G',
          streams: [{ mirrorOf: origin('g-cam') }],
          replacedStreamIds: [destStream('mG-cam')],
        },
      ],
    },
  },
  {
    options: ['refresh-stale'],
    outcome: {
      departures: [DEPART_A],
      staleRefreshes: STALE_REFRESHES,
      joins: [
        JOIN_F,
        {
          sessionId: 'C',
          streams: [{ kept: uriOf(destStream('mC-cam')) }, { mirrorOf: origin('c-screen') }],
          replacedStreamIds: [destStream('mC-old')],
        },
        { sessionId: 'E', streams: [{ mirrorOf: origin('e-cam') }], replacedStreamIds: [] },
        { sessionId: 'G', streams: [{ mirrorOf: origin('g-cam') }], replacedStreamIds: [] },
      ],
    },
  },
  {
    options: ['additive', 'force', 'keep-streams', 'refresh-stale'],
    outcome: {
      departures: [],
      staleRefreshes: STALE_REFRESHES,
      joins: [
        JOIN_F,
        {
          sessionId: 'C',
          streams: [{ mirrorOf: origin('c-cam') }, { mirrorOf: origin('c-screen') }],
          replacedStreamIds: [destStream('mC-cam'), destStream('mC-old')],
        },
        {
          sessionId: 'B',
          streams: [{ mirrorOf: origin('b-cam') }],
          replacedStreamIds: [destStream('mB-cam')],
        },
        { sessionId: 'E', streams: [{ mirrorOf: origin('e-cam') }], replacedStreamIds: [] },
        { sessionId: 'G', streams: [{ mirrorOf: origin('g-cam') }], replacedStreamIds: [] },
      ],
    },
  },
];

function caseName(options: readonly string[]): string {
  return options.length === 0 ? 'no flags' : options.join('+');
}

describe('planFork hand rows', () => {
  for (const row of HAND_ROWS) {
    const name = caseName(row.options);

    it(`oracle, overlapping, ${name}`, () => {
      const expected = row.outcome;
      const actual = oracle(makeInput(OVERLAPPING, row.options));
      expect(actual.departures, 'departures').toEqual(expected.departures);
      expect(actual.staleRefreshes, 'staleRefreshes').toEqual(expected.staleRefreshes);
      expect(actual.joins, 'joins').toEqual(expected.joins);
    });

    it(`planner, overlapping, ${name}`, () => {
      const expected = row.outcome;
      const actual = outcomeOf(planFork(makeInput(OVERLAPPING, row.options)));
      expect(actual.departures, 'departures').toEqual(expected.departures);
      expect(actual.staleRefreshes, 'staleRefreshes').toEqual(expected.staleRefreshes);
      expect(actual.joins, 'joins').toEqual(expected.joins);
    });
  }
});

describe('planFork table', () => {
  for (const scenario of SCENARIOS) {
    for (const options of FLAG_COMBINATIONS) {
      it(`${scenario.name}, ${caseName(options)}`, () => {
        const input = makeInput(scenario, options);
        const plan = planFork(input);
        const expected = oracle(input);
        const actual = outcomeOf(plan);

        expect(actual.departures, 'departures').toEqual(expected.departures);
        expect(actual.staleRefreshes, 'staleRefreshes').toEqual(expected.staleRefreshes);
        expect(actual.joins, 'joins').toEqual(expected.joins);

        expect(plan.forkId).toBe(FORK_ID);
        expect(plan.roomId).toBe(DEST_ID);
        expect(plan.sourceRoomId).toBe(SOURCE_ID);
        expect(plan.desiredRegion).toBe('eu-west');

        for (const join of plan.joins) {
          const current = scenario.destinationMembers.find((m) => m.sessionId === join.sessionId);
          expect(join.expectedStreamUris, `expectedStreamUris of ${join.sessionId}`).toEqual(
            current === undefined ? null : current.streams.map((stream) => stream.uri),
          );
          for (const stream of join.member.streams) {
            if (stream.mirror === undefined) {
              continue;
            }
            expect(stream.uri, `uri of ${join.sessionId}`).toBe(stream.mirror.memberUri);
            expect(stream.mirror.mirrorStreamId, `mirror id of ${join.sessionId}`).toBe(
              mirrorStreamId(FORK_ID, DEST_ID, join.sessionId, stream.mirror.originStreamId),
            );
          }
        }
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Single rules

describe('planFork mirrors', () => {
  it('tags, room destination', () => {
    const plan = planFork(makeInput(DESTINATION_EMPTY, [], { streamTags: ['a', 'x-fork', 'a'] }));
    const mirror = plan.joins[0]?.member.streams[0]?.mirror;
    expect(mirror?.tags).toEqual(['a', 'x-fork', `roomId:${DEST_ID}`, 'roomAlias:dest']);
  });

  it('tags, channel destination', () => {
    const plan = planFork(makeInput(DESTINATION_EMPTY, [], { destinationType: 'Channel' }));
    const mirror = plan.joins[0]?.member.streams[0]?.mirror;
    expect(mirror?.tags).toEqual(['t1', 'x-fork', `channelId:${DEST_ID}`, 'channelAlias:dest']);
  });

  it('tags, multi-angle channel destination', () => {
    const plan = planFork(
      makeInput(DESTINATION_EMPTY, [], { destinationType: 'MultiAngleChannel', streamTags: [] }),
    );
    const mirror = plan.joins[0]?.member.streams[0]?.mirror;
    expect(mirror?.tags).toEqual(['x-fork', `channelId:${DEST_ID}`, 'channelAlias:dest']);
  });

  it('capabilities, query replaced', () => {
    const plan = planFork(
      makeInput(DESTINATION_EMPTY, [], { streamCapabilities: ['streaming', 'rtmp'] }),
    );
    const mirror = plan.joins[0]?.member.streams[0]?.mirror;
    expect(mirror?.capabilities).toEqual(['streaming', 'rtmp']);
    expect(mirror?.memberUri).toBe(
      `pcast://h.example/${mirror?.mirrorStreamId}?capabilities=streaming,rtmp`,
    );
  });

  it('capabilities, none given', () => {
    const plan = planFork(makeInput(DESTINATION_EMPTY, [], { streamCapabilities: [] }));
    const mirror = plan.joins[0]?.member.streams[0]?.mirror;
    expect(mirror?.capabilities).toEqual([]);
    expect(mirror?.memberUri).toBe(`pcast://h.example/${mirror?.mirrorStreamId}`);
  });

  it('stream ids with #, survive rewrite', () => {
    const scenario: Scenario = {
      name: 'hash',
      sourceMembers: [
        {
          ...makeMember(SOURCE_ID, 'S', []),
          streams: [
            {
              uri: 'pcast://h.example/us-east#node-1#abc?capabilities=x',
              type: 'User',
              audioState: 'TRACK_ENABLED',
              videoState: 'TRACK_ENABLED',
            },
          ],
        },
      ],
      destinationMembers: [],
      streams: [],
    };
    const plan = planFork(makeInput(scenario, [], { streamCapabilities: ['hd'] }));
    const mirror = plan.joins[0]?.member.streams[0]?.mirror;
    expect(mirror?.originStreamId).toBe('us-east#node-1#abc');
    expect(mirror?.mirrorStreamId).toMatch(/^mirror#[A-Za-z0-9_-]{22}$/);

    const parsed = parseStreamUri(mirror?.memberUri ?? '');
    expect(parsed?.scheme).toBe('pcast');
    expect(parsed?.host).toBe('h.example');
    expect(parsed?.streamId).toBe(mirror?.mirrorStreamId);
    expect(parsed?.capabilities).toEqual(['hd']);
  });

  it('unparsable source URI, raw origin', () => {
    const scenario: Scenario = {
      name: 'unparsable',
      sourceMembers: [
        {
          ...makeMember(SOURCE_ID, 'S', [origin('s-cam')]),
          streams: [
            {
              uri: 'not a uri',
              type: 'User',
              audioState: 'TRACK_ENABLED',
              videoState: 'TRACK_ENABLED',
            },
            ...makeMember(SOURCE_ID, 'S', [origin('s-cam')]).streams,
          ],
        },
      ],
      destinationMembers: [],
      streams: [makeStream(origin('s-cam'), 'started', null)],
    };
    const plan = planFork(makeInput(scenario, []));
    const streams = plan.joins[0]?.member.streams ?? [];
    expect(streams).toHaveLength(2);
    expect(streams[0]?.mirror?.originStreamId).toBe('not a uri');
    expect(streams[0]?.mirror?.mirrorStreamId).toBe(
      mirrorStreamId(FORK_ID, DEST_ID, 'S', 'not a uri'),
    );
    expect(streams[1]?.mirror?.originStreamId).toBe(origin('s-cam'));
  });

  it('member record, source fields', () => {
    const source = makeMember(SOURCE_ID, 'S', [origin('s-cam')]);
    const scenario: Scenario = {
      name: 'fields',
      sourceMembers: [{ ...source, role: 'Audience', state: 'Passive', screenName: 'viewer' }],
      destinationMembers: [],
      streams: [],
    };
    const join = planFork(makeInput(scenario, [])).joins[0];
    const { streams, ...fields } = join?.member ?? { streams: [] };
    expect(fields).toEqual({
      roomId: DEST_ID,
      sessionId: 'S',
      screenName: 'viewer',
      role: 'Audience',
      state: 'Passive',
    });
    expect(streams[0]?.type).toBe(source.streams[0]?.type);
    expect(streams[0]?.audioState).toBe(source.streams[0]?.audioState);
    expect(streams[0]?.videoState).toBe(source.streams[0]?.videoState);
  });
});

describe('planFork determinism', () => {
  it('same input, equal plans', () => {
    const options: ForkOption[] = ['force', 'refresh-stale'];
    const first = planFork(makeInput(OVERLAPPING, options));
    const second = planFork(makeInput(OVERLAPPING, options));
    expect(second).toEqual(first);
  });

  it('input, not mutated', () => {
    const input = makeInput(OVERLAPPING, ['force', 'refresh-stale']);
    const before = structuredClone(input);
    planFork(input);
    expect(input).toEqual(before);
  });

  it('other fork id, other mirror ids', () => {
    const mirrorIds = (forkId: string): string[] =>
      planFork(makeInput(OVERLAPPING, ['force'], { forkId })).joins.flatMap((join) =>
        join.member.streams.map((stream) => stream.mirror?.mirrorStreamId ?? ''),
      );
    const first = mirrorIds('fork-a');
    const second = mirrorIds('fork-b');
    expect(first).toHaveLength(6);
    expect(new Set(first).size).toBe(6);
    for (const id of second) {
      expect(first).not.toContain(id);
    }
  });

  it('mirrorStreamId, length-prefixed values', () => {
    expect(mirrorStreamId('ab', 'c', 'd', 'e')).not.toBe(mirrorStreamId('a', 'bc', 'd', 'e'));
    expect(mirrorStreamId('a:1', 'b', 'c', 'd')).not.toBe(mirrorStreamId('a', '1:b', 'c', 'd'));
    expect(mirrorStreamId('f', 'r', 's', 'o')).toBe(mirrorStreamId('f', 'r', 's', 'o'));
  });
});

describe('planFork reuse', () => {
  const scenario: Scenario = {
    name: 'reuse',
    sourceMembers: [makeMember(SOURCE_ID, 'S', [origin('cam'), origin('screen')])],
    destinationMembers: [
      makeMember(DEST_ID, 'S', [destStream('m-cam'), destStream('m-screen'), destStream('m-old')]),
    ],
    streams: [
      makeStream(origin('cam'), 'started', null),
      makeStream(origin('screen'), 'started', null),
      makeStream(destStream('m-cam'), 'starting', origin('cam')),
      makeStream(destStream('m-screen'), 'ended', origin('screen')),
      makeStream(destStream('m-old'), 'started', origin('old')),
    ],
  };

  it('without force, live mirror kept', () => {
    const join = planFork(makeInput(scenario, ['refresh-stale'])).joins[0];
    const streams = join?.member.streams ?? [];
    expect(streams[0]?.uri).toBe(uriOf(destStream('m-cam')));
    expect(streams[0]?.mirror).toBeUndefined();
    expect(streams[1]?.mirror?.originStreamId).toBe(origin('screen'));
    expect(join?.replacedStreamIds).toEqual([destStream('m-old')]);
  });

  it('with force, every stream mirrored', () => {
    const plan = planFork(makeInput(scenario, ['force', 'refresh-stale']));
    expect(plan.joins).toHaveLength(1);
    const join = plan.joins[0];
    const streams = join?.member.streams ?? [];
    expect(streams[0]?.mirror?.originStreamId).toBe(origin('cam'));
    expect(streams[1]?.mirror?.originStreamId).toBe(origin('screen'));
    expect(plan.staleRefreshes).toEqual([
      { sessionId: 'S', destroyStreamIds: [destStream('m-screen')] },
    ]);
    expect(join?.replacedStreamIds).toEqual([destStream('m-cam'), destStream('m-old')]);
  });

  it('replanned force fork, switched mirror kept', () => {
    const input = makeInput(DESTINATION_EMPTY, ['force']);
    const firstJoin = planFork(input).joins[0];
    const mirror = firstJoin?.member.streams[0]?.mirror;
    if (firstJoin === undefined || mirror === undefined) {
      throw new Error('first plan has no mirror for F');
    }

    // The executor switched F to its new mirror before the fork was replayed.
    const switched = makeMember(DEST_ID, 'F', [mirror.mirrorStreamId]);
    const replay = makeInput({ ...DESTINATION_EMPTY, destinationMembers: [switched] }, [
      'force',
      'refresh-stale',
    ]);
    replay.streams = new Map([
      ...replay.streams,
      [mirror.mirrorStreamId, makeStream(mirror.mirrorStreamId, 'started', origin('f-cam'))],
    ]);

    const replayJoin = planFork(replay).joins.find((join) => join.sessionId === 'F');
    expect(replayJoin?.member.streams[0]?.mirror?.mirrorStreamId).toBe(mirror.mirrorStreamId);
    expect(replayJoin?.replacedStreamIds).toEqual([]);
    expect(replayJoin?.expectedStreamUris).toEqual([uriOf(mirror.mirrorStreamId)]);
  });
});

describe('planFork stale detection', () => {
  const states: [string, StreamState | 'missing', boolean][] = [
    ['missing', 'missing', true],
    ['ending', 'ending', true],
    ['ended', 'ended', true],
    ['starting', 'starting', false],
    ['started', 'started', false],
  ];

  for (const [name, state, stale] of states) {
    it(`record ${name}, ${stale ? 'stale' : 'live'}`, () => {
      const scenario: Scenario = {
        name,
        sourceMembers: [makeMember(SOURCE_ID, 'S', [origin('cam')])],
        destinationMembers: [makeMember(DEST_ID, 'S', [destStream('m-cam')])],
        streams: [
          makeStream(origin('cam'), 'started', null),
          ...(state === 'missing' ? [] : [makeStream(destStream('m-cam'), state, origin('cam'))]),
        ],
      };
      const plan = planFork(makeInput(scenario, ['refresh-stale']));
      const expectedRefreshes = stale
        ? [{ sessionId: 'S', destroyStreamIds: [destStream('m-cam')] }]
        : [];
      expect(plan.staleRefreshes).toEqual(expectedRefreshes);
      expect(plan.joins.map((join) => join.sessionId)).toEqual(stale ? ['S'] : []);
    });
  }

  it('without refresh-stale, stale ignored', () => {
    const plan = planFork(makeInput(OVERLAPPING, []));
    expect(plan.staleRefreshes).toEqual([]);
    expect(plan.joins.map((join) => join.sessionId)).toEqual(['F']);
  });
});

describe('planFork input checks', () => {
  it('duplicate session, first record wins', () => {
    const scenario: Scenario = {
      name: 'duplicates',
      sourceMembers: [
        makeMember(SOURCE_ID, 'S', [origin('first')]),
        makeMember(SOURCE_ID, 'S', [origin('second')]),
      ],
      destinationMembers: [
        makeMember(DEST_ID, 'A', [destStream('first')]),
        makeMember(DEST_ID, 'A', [destStream('second')]),
      ],
      streams: [],
    };
    const plan = planFork(makeInput(scenario, []));
    expect(plan.joins).toHaveLength(1);
    expect(plan.joins[0]?.member.streams[0]?.mirror?.originStreamId).toBe(origin('first'));
    expect(plan.departures).toEqual([{ sessionId: 'A', destroyStreamIds: [destStream('first')] }]);
  });

  it('room id mismatch, throws', () => {
    const input = makeInput(OVERLAPPING, []);
    input.request = { ...input.request, roomId: 'us-east#app#other.CCCCCCCCCCCC' };
    expect(() => planFork(input)).toThrow(/Load the rooms the request names/);
  });
});
