/**
 * Placement of a new stream on a media node: a pure choice from the nodes' reported loads, so it
 * can be tested without agents. MediaCluster.place gathers the loads and calls it.
 */

export interface NodeLoadReport {
  /** Live streams on the node. */
  load: number;
  /** Maximum number of live streams. */
  capacity: number;
  failed: boolean;
}

export interface PlacementCandidate {
  nodeId: string;
  region: string;
  /** The node's `GET /node` report, or null when the node could not be reached. */
  report: NodeLoadReport | null;
}

export type PlacementDecision = { nodeId: string } | { nodeId: null; reason: string };

/**
 * Chooses the node for a new stream. With a desired region only that region's nodes count, and
 * with null every node counts. Among nodes that were reached, have not failed and are below
 * capacity, the least loaded wins. Ties go to the lowest node id, compared by UTF-16 code units
 * so that the result does not depend on the locale. When no node fits, the decision carries a
 * reason that names each rejected node.
 */
export function selectNode(
  candidates: readonly PlacementCandidate[],
  desiredRegion: string | null,
): PlacementDecision {
  const inRegion = candidates.filter(
    (candidate) => desiredRegion === null || candidate.region === desiredRegion,
  );
  if (inRegion.length === 0) {
    return { nodeId: null, reason: describeMissingRegion(candidates, desiredRegion) };
  }

  let best: { nodeId: string; load: number } | undefined;
  const rejected: string[] = [];
  for (const { nodeId, report } of inRegion) {
    if (report === null || report.failed || report.load >= report.capacity) {
      rejected.push(`${nodeId} ${describeRejection(report)}`);
      continue;
    }
    const load = report.load;
    if (best === undefined || load < best.load || (load === best.load && nodeId < best.nodeId)) {
      best = { nodeId, load };
    }
  }

  if (best === undefined) {
    const where = desiredRegion === null ? '' : ` in region ${desiredRegion}`;
    return {
      nodeId: null,
      reason: `no media node${where} can take a stream: ${rejected.sort().join(', ')}`,
    };
  }
  return { nodeId: best.nodeId };
}

function describeRejection(report: NodeLoadReport | null): string {
  if (report === null) {
    return 'unreachable';
  }
  if (report.failed) {
    return 'failed';
  }
  return `at capacity (${report.load}/${report.capacity})`;
}

/** Explains why no node is a candidate: none configured, or none in the desired region. */
export function describeMissingRegion(
  nodes: readonly { region: string }[],
  desiredRegion: string | null,
): string {
  if (nodes.length === 0) {
    return 'no media nodes are configured';
  }
  const regions = [...new Set(nodes.map((node) => node.region))].sort();
  return `no media node in region ${desiredRegion ?? '(any)'}; configured regions: ${regions.join(', ')}`;
}
