import { seededRandom, shuffleInPlace } from '../tf/seeded-random.js';

/**
 * A label-skewed (non-IID) split, as in McMahan et al.: rows sorted by label are cut into
 * `clients × shardsPerClient` shards and each client gets `shardsPerClient` of them at random, so
 * most clients see only a few classes. Every row goes to exactly one client.
 */
export function labelSkewPartition(labels: Int32Array, clients: number, shardsPerClient = 2, seed = 1): Int32Array[] {
  const random = seededRandom(seed);
  const order = Int32Array.from({ length: labels.length }, (_, i) => i);
  shuffleInPlace(order, random);
  const sorted = Array.from(order).sort((a, b) => labels[a]! - labels[b]! || a - b);
  const shards = clients * shardsPerClient;
  const shardOrder = Int32Array.from({ length: shards }, (_, i) => i);
  shuffleInPlace(shardOrder, random);
  const parts: number[][] = Array.from({ length: clients }, () => []);
  shardOrder.forEach((shard, k) => {
    const from = Math.floor((shard * sorted.length) / shards);
    const to = Math.floor(((shard + 1) * sorted.length) / shards);
    parts[k % clients]!.push(...sorted.slice(from, to));
  });
  return parts.map((rows) => Int32Array.from(rows).sort());
}
