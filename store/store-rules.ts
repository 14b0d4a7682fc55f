/**
 * Rules that both store adapters apply, so that the contract suite gets the same orders and the
 * same field updates from each.
 */
import type { ForkRecord, Member, Room, Stream, StreamState } from '../domain/types.ts';

/** Member order of `MemberRepository.list`: ascending lastUpdate, ties by sessionId. */
export function compareMembers(a: Member, b: Member): number {
  return a.lastUpdate - b.lastUpdate || compareStrings(a.sessionId, b.sessionId);
}

/** Room order of `RoomRepository.list`: ascending creation time, ties by roomId. */
export function compareRooms(a: Room, b: Room): number {
  return a.created - b.created || compareStrings(a.roomId, b.roomId);
}

/** Stream order of `StreamRepository.listMirrors`: ascending creation time, ties by streamId. */
export function compareStreams(a: Stream, b: Stream): number {
  return a.created - b.created || compareStrings(a.streamId, b.streamId);
}

/** Fields a stream transition sets besides `state`: the end fields, for `ending` and `ended`. */
export function transitionFields(
  to: StreamState,
  endReason: string | undefined,
  now: number,
): { endReason?: string; ended?: number } {
  if (to !== 'ending' && to !== 'ended') {
    return {};
  }
  // Without a reason the stored one stays, so `ending` with a reason and then `ended` without
  // one keeps the reason that started the end.
  return endReason === undefined ? { ended: now } : { endReason, ended: now };
}

/**
 * Returns the fields of a fork update that change the record: `forkId` is the key and stays,
 * and an undefined value leaves the stored field as it is.
 */
export function forkUpdateFields(
  fields: Partial<Omit<ForkRecord, 'forkId'>>,
): Partial<Omit<ForkRecord, 'forkId'>> {
  const updates: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (name !== 'forkId' && value !== undefined) {
      updates[name] = value;
    }
  }
  return updates as Partial<Omit<ForkRecord, 'forkId'>>;
}

/** Compares by UTF-16 code units, the order JavaScript's `<` gives. */
function compareStrings(a: string, b: string): number {
  if (a < b) {
    return -1;
  }
  return a > b ? 1 : 0;
}
