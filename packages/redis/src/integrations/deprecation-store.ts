import type { RedisClient } from '../connection';
import type { RedisKeys } from '../keys';
import { deprecationSchema, type Deprecation, type DeprecationSighting } from '@broker/shared/integrations/deprecation';

/**
 * Deprecation notices per integration and API version, in one hash per
 * integration (`<version>` → the latest sighting, `first:<version>` → when it
 * was first seen). Workers write, the api reads (`GET /v1/integrations`).
 */
export class DeprecationStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  /** Records a sighting; true when this version had never been seen deprecated before. */
  async record(integration: string, sighting: DeprecationSighting, at = new Date()): Promise<boolean> {
    const key = this.keys.deprecations(integration);
    const seenAt = at.toISOString();
    const [[, first]] = (await this.redis
      .multi()
      .hsetnx(key, `first:${sighting.apiVersion}`, seenAt)
      .hset(key, sighting.apiVersion, JSON.stringify({ ...sighting, lastSeenAt: seenAt }))
      .exec()) as [[Error | null, number], [Error | null, number]];
    return first === 1;
  }

  /** Every version of each integration seen deprecated, sunset first. */
  async read(integrations: readonly string[]): Promise<Map<string, Deprecation[]>> {
    // One command per hash, not a pipeline: on a Redis Cluster the hashes live on different nodes.
    const replies = await Promise.all(integrations.map((name) => this.redis.hgetall(this.keys.deprecations(name))));
    const out = new Map<string, Deprecation[]>();
    integrations.forEach((name, i) => {
      const fields = replies[i] ?? {};
      const list: Deprecation[] = [];
      for (const [field, value] of Object.entries(fields)) {
        if (field.startsWith('first:')) continue;
        try {
          const latest = JSON.parse(value) as Omit<Deprecation, 'firstSeenAt'>;
          const parsed = deprecationSchema.safeParse({ ...latest, firstSeenAt: fields[`first:${field}`] ?? latest.lastSeenAt });
          if (parsed.success) list.push(parsed.data);
        } catch {
          // A field we cannot read is skipped rather than failing the whole listing.
        }
      }
      list.sort((a, b) => (a.sunsetAt ?? '9').localeCompare(b.sunsetAt ?? '9') || a.apiVersion.localeCompare(b.apiVersion));
      out.set(name, list);
    });
    return out;
  }
}
