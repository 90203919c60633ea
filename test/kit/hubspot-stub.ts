import { randomUUID } from 'node:crypto';
import type { StubReply, StubRequest } from '../helpers/stub-server';
import { KitStub } from './kit-stub';

export interface HubSpotStubOptions {
  /** The private-app (or OAuth) token the stub accepts as `Authorization: Bearer <token>`. @defaultValue "pat-kit-token" */
  token?: string;
}

interface CrmRecord {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  associations: { toId: string; typeId: number }[];
}

/** Properties each object type knows (HubSpot refuses others with PROPERTY_DOESNT_EXIST). */
const KNOWN: Record<string, Set<string>> = {
  contacts: new Set(['email', 'firstname', 'lastname', 'phone', 'company', 'lifecyclestage', 'website', 'jobtitle', 'city']),
  deals: new Set(['dealname', 'dealstage', 'pipeline', 'amount', 'closedate', 'hubspot_owner_id', 'description']),
  notes: new Set(['hs_timestamp', 'hs_note_body', 'hubspot_owner_id']),
};
const REQUIRED: Record<string, string[]> = { contacts: [], deals: ['dealname', 'dealstage'], notes: ['hs_timestamp'] };
/** HubSpot-defined association types the stub accepts, by object type → contact. */
const ASSOCIATION_TO_CONTACT: Record<string, number> = { deals: 3, notes: 202 };

/**
 * Plays HubSpot's CRM v3 objects API (contacts, deals, notes): JSON records
 * `{id, properties, createdAt, updatedAt, archived}`, lookups by `idProperty`,
 * associations by HubSpot-defined type id, and HubSpot's error body
 * `{"status":"error","message","correlationId","category"}`.
 */
export class HubSpotStub extends KitStub {
  readonly objects: Record<string, Map<string, CrmRecord>> = { contacts: new Map(), deals: new Map(), notes: new Map() };
  private nextId = 51;

  private constructor(private readonly token: string) {
    super();
  }

  static start(options: HubSpotStubOptions = {}): Promise<HubSpotStub> {
    return KitStub.listen(new HubSpotStub(options.token ?? 'pat-kit-token'));
  }

  /** Adds a contact and returns its id. */
  seedContact(properties: Record<string, string>, id?: string): string {
    return this.create('contacts', properties, [], id).id;
  }

  protected errorReply(status: number, message: string, category?: string): StubReply {
    const body: Record<string, unknown> = {
      status: 'error',
      message,
      correlationId: randomUUID(),
      category: category ?? (status === 429 ? 'RATE_LIMITS' : status === 401 ? 'INVALID_AUTHENTICATION' : status === 404 ? 'OBJECT_NOT_FOUND' : status >= 500 ? 'INTERNAL_ERROR' : 'VALIDATION_ERROR'),
    };
    if (status === 429) Object.assign(body, { errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' });
    return { status, body };
  }

  protected authorize(req: StubRequest): StubReply | undefined {
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return this.errorReply(401, 'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview', 'INVALID_AUTHENTICATION');
    }
    return undefined;
  }

  protected route(req: StubRequest): StubReply {
    const m = /^\/crm\/v3\/objects\/(contacts|deals|notes)(?:\/([^/]+))?$/.exec(req.path);
    if (!m) return this.errorReply(404, `Unable to route ${req.method} ${req.path}`, 'OBJECT_NOT_FOUND');
    const type = m[1]!;
    const id = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    const rate = { 'x-hubspot-ratelimit-max': '190', 'x-hubspot-ratelimit-remaining': '189', 'x-hubspot-ratelimit-interval-milliseconds': '10000' };
    const withRate = (reply: StubReply): StubReply => ({ ...reply, headers: { ...rate, ...reply.headers } });
    let body: { properties?: Record<string, unknown>; associations?: { to?: { id?: string }; types?: { associationCategory?: string; associationTypeId?: number }[] }[] } = {};
    if (req.body) {
      try {
        body = JSON.parse(req.body) as typeof body;
      } catch {
        return this.errorReply(400, 'Invalid input JSON on line 1');
      }
    }
    if (id !== undefined && (req.method === 'GET' || req.method === 'PATCH')) {
      const record = this.find(type, id, req.query.get('idProperty'));
      if (!record) return withRate({ status: 404, body: this.errorReply(404, 'resource not found', 'OBJECT_NOT_FOUND').body });
      if (req.method === 'PATCH') {
        const invalid = this.invalidProperties(type, body.properties ?? {});
        if (invalid) return invalid;
        for (const [k, v] of Object.entries(body.properties ?? {})) record.properties[k] = v === '' ? null : String(v);
        record.updatedAt = new Date().toISOString();
      }
      const wanted = req.query.get('properties')?.split(',').filter(Boolean);
      return withRate({ status: 200, body: this.view(record, wanted) });
    }
    if (id === undefined && req.method === 'POST') {
      const properties = body.properties ?? {};
      const invalid = this.invalidProperties(type, properties);
      if (invalid) return invalid;
      const missing = REQUIRED[type]!.filter((p) => properties[p] === undefined || properties[p] === '');
      if (missing.length > 0) return this.errorReply(400, `Property values were not valid: ${JSON.stringify(missing.map((name) => ({ isValid: false, message: `${name} is required`, error: 'REQUIRED_PROPERTY', name })))}`);
      const associations: CrmRecord['associations'] = [];
      for (const a of body.associations ?? []) {
        const toId = String(a.to?.id ?? '');
        const typeId = a.types?.[0]?.associationTypeId;
        if (!this.objects.contacts!.has(toId)) return this.errorReply(400, `One or more associations are invalid: contact ${toId} does not exist`, 'VALIDATION_ERROR');
        if (a.types?.[0]?.associationCategory !== 'HUBSPOT_DEFINED' || typeId !== ASSOCIATION_TO_CONTACT[type]) {
          return this.errorReply(400, `association type id ${String(typeId)} is not valid between ${type} and contacts`, 'VALIDATION_ERROR');
        }
        associations.push({ toId, typeId: typeId! });
      }
      const record = this.create(type, Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, String(v)])), associations);
      return withRate({ status: 201, body: this.view(record) });
    }
    return this.errorReply(405, `${req.method} is not allowed on ${req.path}`);
  }

  private create(type: string, properties: Record<string, string>, associations: CrmRecord['associations'], id?: string): CrmRecord {
    const at = new Date().toISOString();
    const record: CrmRecord = {
      id: id ?? String(this.nextId++),
      properties: { ...properties, createdate: at, lastmodifieddate: at },
      createdAt: at,
      updatedAt: at,
      archived: false,
      associations,
    };
    record.properties.hs_object_id = record.id;
    this.objects[type]!.set(record.id, record);
    return record;
  }

  private find(type: string, id: string, idProperty: string | null): CrmRecord | undefined {
    const all = this.objects[type]!;
    if (!idProperty || idProperty === 'hs_object_id') return all.get(id);
    return [...all.values()].find((r) => r.properties[idProperty] === id);
  }

  private invalidProperties(type: string, properties: Record<string, unknown>): StubReply | undefined {
    const unknown = Object.keys(properties).filter((p) => !KNOWN[type]!.has(p));
    if (unknown.length === 0) return undefined;
    const details = unknown.map((name) => ({ isValid: false, message: `Property "${name}" does not exist`, error: 'PROPERTY_DOESNT_EXIST', name }));
    return this.errorReply(400, `Property values were not valid: ${JSON.stringify(details)}`, 'VALIDATION_ERROR');
  }

  /** HubSpot returns the requested properties (or a default set) plus its own bookkeeping ones. */
  private view(record: CrmRecord, wanted?: string[]) {
    const names = wanted ?? Object.keys(record.properties);
    const properties: Record<string, string | null> = {};
    for (const name of [...names, 'createdate', 'lastmodifieddate', 'hs_object_id']) properties[name] = record.properties[name] ?? null;
    return { id: record.id, properties, createdAt: record.createdAt, updatedAt: record.updatedAt, archived: record.archived };
  }
}
