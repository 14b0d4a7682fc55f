/**
 * Reads every record of a test service's MongoDB database, so a test can check that a run of
 * requests changed nothing in the store.
 */
import { MongoClient } from 'mongodb';
import { MONGO_COLLECTIONS } from '../../store/mongo-store.ts';
import { mongodbUri } from '../infra/env.ts';

/** The records the API can change: applications, rooms, both member sets, streams and forks. */
const SNAPSHOT_COLLECTIONS = [
  MONGO_COLLECTIONS.applications,
  MONGO_COLLECTIONS.rooms,
  MONGO_COLLECTIONS.members,
  MONGO_COLLECTIONS.audienceMembers,
  MONGO_COLLECTIONS.streams,
  MONGO_COLLECTIONS.forks,
];

export type StoreSnapshot = Record<string, unknown[]>;

/** Returns the documents of each collection, ordered by `_id` so two snapshots compare equal. */
export async function snapshotStore(dbName: string): Promise<StoreSnapshot> {
  const client = new MongoClient(mongodbUri());
  try {
    await client.connect();
    const db = client.db(dbName);
    const snapshot: StoreSnapshot = {};
    for (const name of SNAPSHOT_COLLECTIONS) {
      const documents = await db.collection(name).find({}).toArray();
      snapshot[name] = documents
        .map((document) => JSON.parse(JSON.stringify(document)) as Record<string, unknown>)
        .sort((left, right) => JSON.stringify(left._id).localeCompare(JSON.stringify(right._id)));
    }
    return snapshot;
  } finally {
    await client.close();
  }
}

/** Returns the `_id`s of the documents in each member collection of one room. */
export async function memberSets(
  dbName: string,
  roomId: string,
): Promise<{ members: string[]; audienceMembers: string[] }> {
  const snapshot = await snapshotStore(dbName);
  const sessions = (name: string) =>
    (snapshot[name] ?? [])
      .map((document) => (document as { _id: { roomId: string; sessionId: string } })._id)
      .filter((id) => id.roomId === roomId)
      .map((id) => id.sessionId);
  return {
    members: sessions(MONGO_COLLECTIONS.members),
    audienceMembers: sessions(MONGO_COLLECTIONS.audienceMembers),
  };
}
