/** The pure placement choice: region filter, load, failure, capacity and tie-break. */
import { describe, expect, test } from 'vitest';

import { selectNode } from '../media/placement.ts';
import type { NodeLoadReport, PlacementCandidate } from '../media/placement.ts';

function node(
  nodeId: string,
  region: string,
  report: Partial<NodeLoadReport> | null = {},
): PlacementCandidate {
  return {
    nodeId,
    region,
    report: report === null ? null : { load: 0, capacity: 10, failed: false, ...report },
  };
}

interface PlacementCase {
  name: string;
  candidates: PlacementCandidate[];
  region: string | null;
  /** The chosen node id, or a pattern the rejection reason must match. */
  expected: string | RegExp;
}

const cases: PlacementCase[] = [
  {
    name: 'least load wins',
    candidates: [node('a', 'us-east', { load: 5 }), node('b', 'us-east', { load: 2 })],
    region: 'us-east',
    expected: 'b',
  },
  {
    name: 'tie goes to lowest node id',
    candidates: [node('b', 'us-east', { load: 1 }), node('a', 'us-east', { load: 1 })],
    region: 'us-east',
    expected: 'a',
  },
  {
    name: 'tie-break is not locale order',
    candidates: [node('b', 'us-east'), node('B', 'us-east')],
    region: null,
    expected: 'B',
  },
  {
    name: 'desired region excludes idle nodes elsewhere',
    candidates: [node('a', 'eu-west', { load: 0 }), node('b', 'us-east', { load: 9 })],
    region: 'us-east',
    expected: 'b',
  },
  {
    name: 'no desired region takes any region',
    candidates: [node('a', 'eu-west', { load: 3 }), node('b', 'us-east', { load: 4 })],
    region: null,
    expected: 'a',
  },
  {
    name: 'failed node is skipped',
    candidates: [node('a', 'us-east', { failed: true }), node('b', 'us-east', { load: 7 })],
    region: 'us-east',
    expected: 'b',
  },
  {
    name: 'full node is skipped',
    candidates: [
      node('a', 'us-east', { load: 10 }),
      node('b', 'us-east', { load: 11, capacity: 20 }),
    ],
    region: 'us-east',
    expected: 'b',
  },
  {
    name: 'unreachable node is skipped',
    candidates: [node('a', 'us-east', null), node('b', 'us-east', { load: 3 })],
    region: 'us-east',
    expected: 'b',
  },
  {
    name: 'unknown region names the region',
    candidates: [node('a', 'us-east'), node('b', 'eu-west')],
    region: 'ap-south',
    expected: /no media node in region ap-south; configured regions: eu-west, us-east/,
  },
  {
    name: 'no nodes configured',
    candidates: [],
    region: null,
    expected: /no media nodes are configured/,
  },
  {
    name: 'every node rejected names each reason',
    candidates: [
      node('c', 'us-east', null),
      node('a', 'us-east', { failed: true }),
      node('b', 'us-east', { load: 2, capacity: 2 }),
      node('d', 'eu-west'),
    ],
    region: 'us-east',
    expected:
      /^no media node in region us-east can take a stream: a failed, b at capacity \(2\/2\), c unreachable$/,
  },
  {
    name: 'zero capacity node is full',
    candidates: [node('a', 'us-east', { capacity: 0 })],
    region: null,
    expected: /a at capacity \(0\/0\)/,
  },
];

describe('selectNode', () => {
  test.each(cases)('$name', ({ candidates, region, expected }) => {
    const decision = selectNode(candidates, region);

    if (typeof expected === 'string') {
      expect(decision).toEqual({ nodeId: expected });
    } else {
      expect(decision.nodeId).toBeNull();
      expect('reason' in decision ? decision.reason : '').toMatch(expected);
    }
  });
});
