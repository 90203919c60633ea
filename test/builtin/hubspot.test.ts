import { builtinIntegrationConfig, runTool, verifyTool, HubSpotStub } from '../kit';

/** The HubSpot CRM v3 tools against the HubSpot stub. */
let stub: HubSpotStub;
let contact: string;
beforeAll(async () => {
  stub = await HubSpotStub.start();
  contact = stub.seedContact({ email: 'ada@example.com', firstname: 'Ada', lastname: 'Lovelace', lifecyclestage: 'lead' });
});
afterAll(() => stub.close());

const run = (tool: string, input: unknown, extra: Partial<Parameters<typeof runTool>[0]> = {}) =>
  runTool({ config: { integrations: { hubspot: builtinIntegrationConfig('hubspot', stub.url) } }, tool, input, ...extra });
const last = () => stub.requests.at(-1)!;

describe('hubspot built-in tools', () => {
  it('getContact reads by id with the default properties, the private-app token as Bearer', async () => {
    const out = await run('hubspot.getContact', { id: contact });
    expect(out).toMatchObject({ id: contact, properties: { email: 'ada@example.com', firstname: 'Ada', lifecyclestage: 'lead' } });
    expect(last()).toMatchObject({ method: 'GET', path: `/crm/v3/objects/contacts/${contact}` });
    expect(last().query.get('properties')).toBe('email,firstname,lastname,phone,company,lifecyclestage');
    expect(last().headers.authorization).toBe('Bearer pat-kit-token');
  });

  it('getContact looks up by email with idProperty, and answers NOT_FOUND for nobody', async () => {
    await expect(run('hubspot.getContact', { id: 'ada@example.com', idProperty: 'email', properties: ['firstname'] })).resolves.toMatchObject({
      id: contact,
      properties: { firstname: 'Ada' },
    });
    expect(last().path).toBe('/crm/v3/objects/contacts/ada%40example.com');
    await expect(run('hubspot.getContact', { id: 'nobody@example.com', idProperty: 'email' })).rejects.toMatchObject({ code: 'NOT_FOUND', upstreamStatus: 404 });
  });

  it('updateContact PATCHes properties and returns the record', async () => {
    const out = await run('hubspot.updateContact', { id: contact, properties: { lifecyclestage: 'customer', phone: 5551234 } });
    expect(out).toMatchObject({ id: contact, properties: { lifecyclestage: 'customer', phone: '5551234' } });
    expect(last()).toMatchObject({ method: 'PATCH', path: `/crm/v3/objects/contacts/${contact}` });
    expect(JSON.parse(last().body)).toEqual({ properties: { lifecyclestage: 'customer', phone: 5551234 } });
  });

  it("updateContact keeps HubSpot's message for a property that does not exist (VALIDATION_ERROR)", async () => {
    await expect(run('hubspot.updateContact', { id: contact, properties: { favourite_colour: 'blue' } })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      upstreamStatus: 400,
      message: expect.stringContaining('PROPERTY_DOESNT_EXIST'),
    });
  });

  it('createDeal creates a deal in a stage, associated with the contact (type 3)', async () => {
    const out = (await run('hubspot.createDeal', { dealname: 'Renewal', dealstage: 'appointmentscheduled', amount: 1200.5, contactId: contact }, { jobId: 'job_hs_deal' })) as {
      id: string;
    };
    expect(out).toMatchObject({ properties: { dealname: 'Renewal', amount: '1200.5', pipeline: 'default' } });
    expect(JSON.parse(last().body)).toEqual({
      properties: { dealname: 'Renewal', dealstage: 'appointmentscheduled', pipeline: 'default', amount: '1200.5', broker_reference: 'job_hs_deal' },
      associations: [{ to: { id: contact }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 3 }] }],
    });
    expect(stub.objects.deals!.get(out.id)!.associations).toEqual([{ toId: contact, typeId: 3 }]);
  });

  it('logActivity writes a note on the contact timeline (association type 202)', async () => {
    const out = (await run('hubspot.logActivity', { contactId: contact, body: 'Called about renewal', timestamp: '2026-05-01T10:00:00Z' }, { jobId: 'job_hs_call' })) as {
      id: string;
      properties: Record<string, string>;
    };
    expect(out.properties).toMatchObject({ hs_note_body: 'Called about renewal', hs_timestamp: '2026-05-01T10:00:00Z' });
    expect(stub.objects.notes!.get(out.id)!.associations).toEqual([{ toId: contact, typeId: 202 }]);
    await expect(run('hubspot.logActivity', { contactId: '999', body: 'x' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
  });

  // A dot segment in the path is resolved away by the URL parser: /crm/v3/objects/contacts/.. would be /crm/v3/objects/.
  it.each<[string, Record<string, unknown>]>([
    ['hubspot.getContact', { id: '..' }],
    ['hubspot.getContact', { id: '.', idProperty: 'email' }],
    ['hubspot.updateContact', { id: '..', properties: { firstname: 'Eve' } }],
  ])('%s refuses "." and ".." as the contact id at validation (a 422 at submit), and sends nothing: %j', async (tool, input) => {
    const before = stub.count();
    await expect(run(tool, input)).rejects.toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining('/id') });
    expect(stub.count()).toBe(before);
  });

  it('fails AUTHENTICATION_FAILED with a wrong token, after reading credentials again once', async () => {
    const before = stub.count();
    await expect(run('hubspot.getContact', { id: contact }, { secrets: { HUBSPOT_TOKEN: 'pat-wrong' } })).rejects.toMatchObject({ code: 'AUTHENTICATION_FAILED' });
    expect(stub.count() - before).toBe(2);
  });

  it('writes are not marked idempotent except the property update', () => {
    // Covered by the catalogue test; here the wire: a create sends no idempotency key HubSpot would ignore anyway.
    return run('hubspot.createDeal', { dealname: 'X', dealstage: 's' }, { jobId: 'job_hs_nokey' }).then(() => expect(last().headers['idempotency-key']).toBeUndefined());
  });
});

type CrmRecord = { id: string; properties: Record<string, string | null> };
const verify = (tool: string, input: unknown, jobId: string, submittedAt: number) =>
  verifyTool({ config: { integrations: { hubspot: builtinIntegrationConfig('hubspot', stub.url) } }, tool, input, jobId, submittedAt });

describe('hubspot.createDeal carries its job id in the unique deal property broker_reference', () => {
  const dealsHolding = (reference: string) => [...stub.objects.deals.values()].filter((d) => d.properties.broker_reference === reference);

  it('sets the reference on the deal (an agent cannot replace it), and verify reads the same deal by it', async () => {
    const input = { dealname: 'Upsell', dealstage: 'qualifiedtobuy', contactId: contact, properties: { description: 'Two seats', broker_reference: 'job_forged' } };
    const submittedAt = Date.now() - 1000;
    const created = await run('hubspot.createDeal', input, { jobId: 'job_hs_ref', submittedAt });
    expect(JSON.parse(last().body).properties).toMatchObject({ broker_reference: 'job_hs_ref', description: 'Two seats' });
    await expect(verify('hubspot.createDeal', input, 'job_hs_ref', submittedAt)).resolves.toEqual({ found: true, output: created });
    // One read by the unique property, asking for the properties a create answers with.
    expect(last()).toMatchObject({ method: 'GET', path: '/crm/v3/objects/deals/job_hs_ref' });
    expect(last().query.get('idProperty')).toBe('broker_reference');
    expect(last().query.get('properties')!.split(',').sort()).toEqual(['broker_reference', 'dealname', 'dealstage', 'description', 'pipeline']);
    // By a unique property a 404 is exact: no deal holds that reference.
    await expect(verify('hubspot.createDeal', input, 'job_hs_never_sent', submittedAt)).resolves.toEqual({ found: false });
  });

  it('HubSpot refuses a second deal with the same reference: a resend racing an earlier try returns that one deal', async () => {
    const input = { dealname: 'Race', dealstage: 'appointmentscheduled' };
    const first = (await run('hubspot.createDeal', input, { jobId: 'job_hs_race' })) as CrmRecord;
    const before = stub.count();
    const second = (await run('hubspot.createDeal', input, { jobId: 'job_hs_race' })) as CrmRecord;
    expect(second.id).toBe(first.id);
    expect(dealsHolding('job_hs_race')).toHaveLength(1);
    expect(stub.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual(['POST /crm/v3/objects/deals', 'GET /crm/v3/objects/deals/job_hs_race']);
  });

  it('a portal without the property: the create fails, saying what to set up', async () => {
    const bare = await HubSpotStub.start({ customProperties: {} });
    try {
      const config = { integrations: { hubspot: builtinIntegrationConfig('hubspot', bare.url) } };
      await expect(runTool({ config, tool: 'hubspot.createDeal', input: { dealname: 'X', dealstage: 's' }, jobId: 'job_hs_bare' })).rejects.toMatchObject({
        code: 'VALIDATION_ERROR',
        message: expect.stringContaining('has no deal property "broker_reference"'),
      });
      expect(bare.objects.deals.size).toBe(0);
    } finally {
      await bare.close();
    }
  });

  it('a lookup answered 5xx throws: it is not "absent"', async () => {
    stub.inject(500, { match: (r) => r.method === 'GET' && r.path.startsWith('/crm/v3/objects/deals/') });
    await expect(verify('hubspot.createDeal', { dealname: 'X', dealstage: 's' }, 'job_hs_ref', Date.now())).rejects.toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 500 });
  });
});

describe('hubspot.logActivity carries its job id in the note body', () => {
  const dayAgo = () => new Date(Date.now() - 86_400_000);
  const associationReads = () => stub.requests.filter((r) => r.path.startsWith('/crm/v4/objects/contacts/'));
  const batchReads = () => stub.requests.filter((r) => r.path === '/crm/v3/objects/notes/batch/read');

  it('ends the body with an invisible HTML comment, and returns the note as the agent wrote it', async () => {
    const out = (await run('hubspot.logActivity', { contactId: contact, body: '<p>Sent the <b>quote</b></p>' }, { jobId: 'job_hs_note' })) as CrmRecord;
    expect(JSON.parse(last().body).properties.hs_note_body).toBe('<p>Sent the <b>quote</b></p><!-- broker-reference: job_hs_note -->');
    expect(stub.objects.notes.get(out.id)!.properties.hs_note_body).toContain('<!-- broker-reference: job_hs_note -->');
    expect(out.properties.hs_note_body).toBe('<p>Sent the <b>quote</b></p>');
  });

  it("finds the note a run logged among the contact's notes, page by page, and nothing for another job", async () => {
    const grace = stub.seedContact({ email: 'grace@example.com' });
    for (let i = 0; i < 620; i++) stub.seedNote(grace, { hs_note_body: `Older note ${i}` }, dayAgo());
    const input = { contactId: grace, body: 'Demo booked' };
    const submittedAt = Date.now() - 1000;
    const logged = await run('hubspot.logActivity', input, { jobId: 'job_hs_demo', submittedAt });

    const [assocBefore, batchBefore] = [associationReads().length, batchReads().length];
    await expect(verify('hubspot.logActivity', input, 'job_hs_demo', submittedAt)).resolves.toEqual({ found: true, output: logged });
    const pages = associationReads().slice(assocBefore);
    expect(pages.map((r) => [r.path, r.query.get('limit'), r.query.get('after')])).toEqual([
      [`/crm/v4/objects/contacts/${grace}/associations/notes`, '500', null],
      [`/crm/v4/objects/contacts/${grace}/associations/notes`, '500', '500'],
    ]);
    // Newest first: the note is in the first batch read.
    const reads = batchReads().slice(batchBefore);
    expect(reads).toHaveLength(1);
    const read = JSON.parse(reads[0]!.body) as { properties: string[]; inputs: { id: string }[] };
    expect(read.properties).toEqual(['hs_timestamp', 'hs_note_body']);
    expect(read.inputs).toHaveLength(100);
    expect(read.inputs[0]).toEqual({ id: (logged as CrmRecord).id });

    const before = batchReads().length;
    await expect(verify('hubspot.logActivity', input, 'job_hs_other', submittedAt)).resolves.toEqual({ found: false });
    // Absent only once every one of the 621 notes was read.
    expect(batchReads().length - before).toBe(7);
  });

  it('a same-text note without a reference, logged since the submission, means it cannot tell', async () => {
    const alan = stub.seedContact({ email: 'alan@example.com' });
    stub.seedNote(alan, { hs_note_body: '<p>Sent the contract</p>' });
    await expect(verify('hubspot.logActivity', { contactId: alan, body: 'Sent the contract' }, 'job_hs_twin', Date.now() - 1000)).rejects.toMatchObject({
      code: 'OUTCOME_UNKNOWN',
      message: expect.stringContaining('cannot tell'),
    });
    // The same text from before the submission (less the clock skew), or another job's note, is not ours: absent.
    const ada2 = stub.seedContact({ email: 'ada2@example.com' });
    stub.seedNote(ada2, { hs_note_body: 'Sent the contract' }, dayAgo());
    stub.seedNote(ada2, { hs_note_body: 'Sent the contract<!-- broker-reference: job_hs_someone_else -->' });
    await expect(verify('hubspot.logActivity', { contactId: ada2, body: 'Sent the contract' }, 'job_hs_twin', Date.now() - 1000)).resolves.toEqual({ found: false });
  });

  it('a 5xx while listing associations or reading notes throws: it is not "absent"', async () => {
    const input = { contactId: contact, body: 'Anything' };
    stub.inject(500, { match: (r) => r.path.startsWith('/crm/v4/') });
    await expect(verify('hubspot.logActivity', input, 'job_hs_5xx', Date.now())).rejects.toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 500 });
    stub.inject(503, { match: (r) => r.path.endsWith('/batch/read') });
    await expect(verify('hubspot.logActivity', input, 'job_hs_5xx', Date.now())).rejects.toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 503 });
  });

  it('gives up on a contact with more than 5,000 notes: it cannot tell, it does not guess', async () => {
    const busy = stub.seedContact({ email: 'busy@example.com' });
    for (let i = 0; i < 5001; i++) stub.seedNote(busy, { hs_note_body: `Note ${i}` }, dayAgo());
    const [assocBefore, batchBefore] = [associationReads().length, batchReads().length];
    await expect(verify('hubspot.logActivity', { contactId: busy, body: 'x' }, 'job_hs_busy', Date.now())).rejects.toMatchObject({ code: 'OUTCOME_UNKNOWN' });
    expect(associationReads().length - assocBefore).toBe(10);
    expect(batchReads().length).toBe(batchBefore);
  });
});
