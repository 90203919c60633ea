import { randomUUID } from 'node:crypto';
import type { StubReply, StubRequest } from '../helpers/stub-server';
import { KitStub } from './kit-stub';

type ObjectType = 'contacts' | 'deals' | 'notes';

/** A custom property the portal was set up with; `unique` is HubSpot's `hasUniqueValue`. */
export interface CustomProperty {
  name: string;
  unique?: boolean;
}

export interface HubSpotStubOptions {
  /** The private-app (or OAuth) token the stub accepts as `Authorization: Bearer <token>`. @defaultValue "pat-kit-token" */
  token?: string;
  /**
   * Custom properties of the portal, by object type.
   * @defaultValue `{ deals: [{ name: 'broker_reference', unique: true }] }` (what docs/integrations.md asks a portal to have)
   */
  customProperties?: Partial<Record<ObjectType, CustomProperty[]>>;
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
const KNOWN: Record<ObjectType, string[]> = {
  contacts: ['email', 'firstname', 'lastname', 'phone', 'company', 'lifecyclestage', 'website', 'jobtitle', 'city'],
  deals: ['dealname', 'dealstage', 'pipeline', 'amount', 'closedate', 'hubspot_owner_id', 'description'],
  notes: ['hs_timestamp', 'hs_note_body', 'hubspot_owner_id'],
};
const REQUIRED: Record<ObjectType, string[]> = { contacts: [], deals: ['dealname', 'dealstage'], notes: ['hs_timestamp'] };
/** HubSpot-defined association types the stub accepts, by object type → contact. */
const ASSOCIATION_TO_CONTACT: Record<string, number> = { deals: 3, notes: 202 };
/** The same associations seen from the contact (contact → deal 4, contact → note 201). */
const ASSOCIATION_FROM_CONTACT: Record<string, number> = { deals: 4, notes: 201 };
/** HubSpot's largest page of the v4 associations list, and of a batch read. */
const ASSOCIATIONS_LIMIT = 500;
const BATCH_READ_LIMIT = 100;
const DEFAULT_CUSTOM: HubSpotStubOptions['customProperties'] = { deals: [{ name: 'broker_reference', unique: true }] };

/**
 * Plays HubSpot's CRM v3 objects API (contacts, deals, notes): JSON records
 * `{id, properties, createdAt, updatedAt, archived}`, lookups by `idProperty`
 * (a unique property, or `email` for contacts), unique custom properties
 * (`hasUniqueValue`) refused when a value is taken, batch reads, the v4
 * associations list of a record, associations by HubSpot-defined type id,
 * and HubSpot's error body `{"status":"error","message","correlationId","category"}`.
 */
export class HubSpotStub extends KitStub {
  readonly objects: Record<ObjectType, Map<string, CrmRecord>> = { contacts: new Map(), deals: new Map(), notes: new Map() };
  private nextId = 51;
  private readonly known: Record<ObjectType, Set<string>>;
  private readonly unique: Record<ObjectType, Set<string>>;

  private constructor(
    private readonly token: string,
    custom: NonNullable<HubSpotStubOptions['customProperties']>,
  ) {
    super();
    const types = Object.keys(KNOWN) as ObjectType[];
    this.known = Object.fromEntries(types.map((t) => [t, new Set([...KNOWN[t], ...(custom[t] ?? []).map((p) => p.name)])])) as HubSpotStub['known'];
    this.unique = Object.fromEntries(types.map((t) => [t, new Set((custom[t] ?? []).filter((p) => p.unique).map((p) => p.name))])) as HubSpotStub['unique'];
  }

  static start(options: HubSpotStubOptions = {}): Promise<HubSpotStub> {
    return KitStub.listen(new HubSpotStub(options.token ?? 'pat-kit-token', options.customProperties ?? DEFAULT_CUSTOM!));
  }

  /** Adds a contact and returns its id. */
  seedContact(properties: Record<string, string>, id?: string): string {
    return this.create('contacts', properties, [], id).id;
  }

  /** Adds a note on a contact's timeline, created at `createdAt` (default now), and returns its id. */
  seedNote(contactId: string, properties: Record<string, string>, createdAt?: Date): string {
    return this.create('notes', { hs_timestamp: new Date().toISOString(), ...properties }, [{ toId: contactId, typeId: ASSOCIATION_TO_CONTACT.notes! }], undefined, createdAt).id;
  }

  protected errorReply(status: number, message: string, category?: string): StubReply {
    const body: Record<string, unknown> = {
      status: 'error',
      message,
      correlationId: randomUUID(),
      category:
        category ??
        (status === 429 ? 'RATE_LIMITS' : status === 401 ? 'INVALID_AUTHENTICATION' : status === 404 ? 'OBJECT_NOT_FOUND' : status >= 500 ? 'INTERNAL_ERROR' : 'VALIDATION_ERROR'),
    };
    if (status === 429) Object.assign(body, { errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' });
    return { status, body };
  }

  protected authorize(req: StubRequest): StubReply | undefined {
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return this.errorReply(
        401,
        'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
        'INVALID_AUTHENTICATION',
      );
    }
    return undefined;
  }

  protected route(req: StubRequest): StubReply {
    const associations = /^\/crm\/v4\/objects\/(contacts|deals|notes)\/([^/]+)\/associations\/(contacts|deals|notes)$/.exec(req.path);
    if (associations && req.method === 'GET') return this.withRate(this.listAssociations(req, decodeURIComponent(associations[2]!), associations[3] as ObjectType));
    const batchRead = /^\/crm\/v3\/objects\/(contacts|deals|notes)\/batch\/read$/.exec(req.path);
    if (batchRead && req.method === 'POST') return this.withRate(this.batchRead(batchRead[1] as ObjectType, req.body));
    const m = /^\/crm\/v3\/objects\/(contacts|deals|notes)(?:\/([^/]+))?$/.exec(req.path);
    if (!m) return this.errorReply(404, `Unable to route ${req.method} ${req.path}`, 'OBJECT_NOT_FOUND');
    const type = m[1] as ObjectType;
    const id = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    let body: { properties?: Record<string, unknown>; associations?: { to?: { id?: string }; types?: { associationCategory?: string; associationTypeId?: number }[] }[] } = {};
    if (req.body) {
      try {
        body = JSON.parse(req.body) as typeof body;
      } catch {
        return this.errorReply(400, 'Invalid input JSON on line 1');
      }
    }
    if (id !== undefined && (req.method === 'GET' || req.method === 'PATCH')) {
      const idProperty = req.query.get('idProperty');
      if (idProperty && !this.identifies(type, idProperty)) return this.errorReply(400, `Unable to perform lookup by non-unique property ${idProperty}`);
      const record = this.find(type, id, idProperty);
      if (!record) return this.withRate({ status: 404, body: this.errorReply(404, 'resource not found', 'OBJECT_NOT_FOUND').body });
      if (req.method === 'PATCH') {
        const invalid = this.invalidProperties(type, body.properties ?? {}) ?? this.takenValues(type, body.properties ?? {}, record.id);
        if (invalid) return invalid;
        for (const [k, v] of Object.entries(body.properties ?? {})) record.properties[k] = v === '' ? null : String(v);
        record.updatedAt = new Date().toISOString();
      }
      const wanted = req.query.get('properties')?.split(',').filter(Boolean);
      return this.withRate({ status: 200, body: this.view(record, wanted) });
    }
    if (id === undefined && req.method === 'POST') {
      const properties = body.properties ?? {};
      const invalid = this.invalidProperties(type, properties) ?? this.takenValues(type, properties);
      if (invalid) return invalid;
      const missing = REQUIRED[type].filter((p) => properties[p] === undefined || properties[p] === '');
      if (missing.length > 0)
        return this.errorReply(
          400,
          `Property values were not valid: ${JSON.stringify(missing.map((name) => ({ isValid: false, message: `${name} is required`, error: 'REQUIRED_PROPERTY', name })))}`,
        );
      const associations: CrmRecord['associations'] = [];
      for (const a of body.associations ?? []) {
        const toId = String(a.to?.id ?? '');
        const typeId = a.types?.[0]?.associationTypeId;
        if (!this.objects.contacts.has(toId)) return this.errorReply(400, `One or more associations are invalid: contact ${toId} does not exist`, 'VALIDATION_ERROR');
        if (a.types?.[0]?.associationCategory !== 'HUBSPOT_DEFINED' || typeId !== ASSOCIATION_TO_CONTACT[type]) {
          return this.errorReply(400, `association type id ${String(typeId)} is not valid between ${type} and contacts`, 'VALIDATION_ERROR');
        }
        associations.push({ toId, typeId: typeId! });
      }
      const record = this.create(type, Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, String(v)])), associations);
      return this.withRate({ status: 201, body: this.view(record) });
    }
    return this.errorReply(405, `${req.method} is not allowed on ${req.path}`);
  }

  private withRate(reply: StubReply): StubReply {
    const rate = { 'x-hubspot-ratelimit-max': '190', 'x-hubspot-ratelimit-remaining': '189', 'x-hubspot-ratelimit-interval-milliseconds': '10000' };
    return { ...reply, headers: { ...rate, ...reply.headers } };
  }

  /**
   * GET /crm/v4/objects/{from}/{id}/associations/{to}: `{results: [{toObjectId, associationTypes}], paging?}`,
   * `limit` up to 500, the opaque `after` cursor in `paging.next`. Only contact → deal/note associations exist here.
   */
  private listAssociations(req: StubRequest, contactId: string, to: ObjectType): StubReply {
    const limit = Math.min(ASSOCIATIONS_LIMIT, Math.max(1, Number(req.query.get('limit') ?? ASSOCIATIONS_LIMIT)));
    const start = Number(req.query.get('after') ?? 0);
    const typeId = ASSOCIATION_FROM_CONTACT[to];
    const all = to === 'contacts' || typeId === undefined ? [] : [...this.objects[to].values()].filter((r) => r.associations.some((a) => a.toId === contactId));
    const results = all.slice(start, start + limit).map((r) => ({ toObjectId: Number(r.id), associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId, label: null }] }));
    const after = start + limit < all.length ? String(start + limit) : undefined;
    const link = `${this.url}${req.path}?limit=${limit}&after=${after}`;
    return { status: 200, body: { results, ...(after ? { paging: { next: { after, link } } } : {}) } };
  }

  /** POST /crm/v3/objects/{type}/batch/read: 200, or 207 with `errors` naming the ids it does not have. */
  private batchRead(type: ObjectType, raw: string): StubReply {
    let body: { properties?: string[]; inputs?: { id?: string }[] };
    try {
      body = JSON.parse(raw || '{}') as typeof body;
    } catch {
      return this.errorReply(400, 'Invalid input JSON on line 1');
    }
    const inputs = body.inputs ?? [];
    if (inputs.length > BATCH_READ_LIMIT) return this.errorReply(400, `Too many inputs: ${inputs.length} (the limit is ${BATCH_READ_LIMIT})`);
    const at = new Date().toISOString();
    const found = inputs.map((i) => this.objects[type].get(String(i.id)));
    const missing = inputs.filter((_, k) => !found[k]).map((i) => String(i.id));
    const results = found.filter((r): r is CrmRecord => r !== undefined).map((r) => this.view(r, body.properties));
    if (missing.length === 0) return { status: 200, body: { status: 'COMPLETE', results, startedAt: at, completedAt: at } };
    const objectName = type.slice(0, -1).toUpperCase();
    const errors = [
      {
        status: 'error',
        category: 'OBJECT_NOT_FOUND',
        message: `Could not get some ${objectName} objects, they may be deleted or not exist. Check that ids are valid.`,
        context: { ids: missing },
      },
    ];
    return { status: 207, body: { status: 'COMPLETE', results, numErrors: errors.length, errors, startedAt: at, completedAt: at } };
  }

  private create(type: ObjectType, properties: Record<string, string>, associations: CrmRecord['associations'], id?: string, createdAt?: Date): CrmRecord {
    const at = (createdAt ?? new Date()).toISOString();
    const record: CrmRecord = {
      id: id ?? String(this.nextId++),
      properties: { ...properties, createdate: at, lastmodifieddate: at },
      createdAt: at,
      updatedAt: at,
      archived: false,
      associations,
    };
    record.properties.hs_object_id = record.id;
    this.objects[type].set(record.id, record);
    return record;
  }

  /** What `idProperty` may name: the record id, a unique property, and a contact's email. */
  private identifies(type: ObjectType, idProperty: string): boolean {
    return idProperty === 'hs_object_id' || this.unique[type].has(idProperty) || (type === 'contacts' && idProperty === 'email');
  }

  private find(type: ObjectType, id: string, idProperty: string | null): CrmRecord | undefined {
    const all = this.objects[type];
    if (!idProperty || idProperty === 'hs_object_id') return all.get(id);
    return [...all.values()].find((r) => r.properties[idProperty] === id);
  }

  private invalidProperties(type: ObjectType, properties: Record<string, unknown>): StubReply | undefined {
    const unknown = Object.keys(properties).filter((p) => !this.known[type].has(p));
    if (unknown.length === 0) return undefined;
    const details = unknown.map((name) => ({ isValid: false, message: `Property "${name}" does not exist`, error: 'PROPERTY_DOESNT_EXIST', name }));
    return this.errorReply(400, `Property values were not valid: ${JSON.stringify(details)}`, 'VALIDATION_ERROR');
  }

  /**
   * A unique property's value held by another record is refused. HubSpot does
   * not document this answer; integrations report a 400 whose message says the
   * value "already has that value" and names the property, as here.
   */
  private takenValues(type: ObjectType, properties: Record<string, unknown>, self?: string): StubReply | undefined {
    const taken = [...this.unique[type]].filter((name) => {
      const value = properties[name];
      if (value === undefined || value === '') return false;
      return [...this.objects[type].values()].some((r) => r.id !== self && r.properties[name] === String(value));
    });
    if (taken.length === 0) return undefined;
    const details = taken.map((name) => ({ isValid: false, message: `${String(properties[name])} already has that value.`, name }));
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
