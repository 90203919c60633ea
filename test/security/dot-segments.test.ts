import { parseConfig } from '@broker/shared/config/load';
import { startWorkerRig, type WorkerRig } from '../helpers/broker';
import { demoGetContactTool } from '../helpers/demo-tools';
import { uniquePrefix } from '../helpers/redis';
import { StubServer } from '../helpers/stub-server';
import { runTool, verifyTool } from '../kit';

/**
 * `.` and `..` in a declared tool's path parameters. axios builds the URL with
 * WHATWG `new URL()`, which resolves dot segments away, so they would reach an
 * endpoint the tool does not declare, with the connection's credential. They
 * are refused (VALIDATION_ERROR) before any request leaves.
 */
const deleteNote = {
  name: 'crm.deleteNote',
  method: 'DELETE',
  path: '/contacts/{id}/notes/{noteId}',
  input: { type: 'object', required: ['id', 'noteId'], properties: { id: { type: 'string' }, noteId: { type: 'string' } } },
  reference: { in: 'query', name: 'ref' },
  verify: { path: '/contacts/{id}/notes/by-ref/{reference}', found: '' },
};

let stub: StubServer;
beforeAll(async () => {
  stub = await StubServer.start(() => ({ body: { id: 'n1' } }));
});
afterAll(() => stub.close());
beforeEach(() => stub.requests.splice(0));

const integrations = () => ({ integrations: { crm: { baseUrl: stub.url, tools: [deleteNote] } } });

describe('a declared path', () => {
  it.each(['..', '.'])('refuses noteId %j before any request (DELETE /contacts/5/notes/.. would be DELETE /contacts/5)', async (noteId) => {
    await expect(runTool({ config: integrations(), tool: 'crm.deleteNote', input: { id: '5', noteId } })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      message: expect.stringContaining('path parameter "noteId"'),
    });
    expect(stub.requests).toHaveLength(0);
  });

  it('refuses them in verify.path too', async () => {
    await expect(verifyTool({ config: integrations(), tool: 'crm.deleteNote', input: { id: '..', noteId: 'n1' } })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      message: expect.stringContaining('path parameter "id"'),
    });
    expect(stub.requests).toHaveLength(0);
  });

  it('still sends values with dots that are not a whole segment', async () => {
    await runTool({ config: integrations(), tool: 'crm.deleteNote', input: { id: 'a.b', noteId: '...' } });
    expect(stub.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['DELETE /contacts/a.b/notes/...']);
  });
});

describe('a job', () => {
  let rig: WorkerRig;
  beforeAll(async () => {
    rig = await startWorkerRig(parseConfig({ integrations: { demo: { baseUrl: stub.url, tools: [demoGetContactTool] } } }), uniquePrefix('dot-segments'), {});
  });
  afterAll(() => rig?.close());

  it('of demo.getContact with id ".." fails VALIDATION_ERROR without calling GET /', async () => {
    const job = await rig.jobs.settled(await rig.jobs.submit('demo.getContact', { id: '..' }));
    expect(job).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_ERROR', retryable: false } });
    expect(job.error?.message).toContain('path parameter "id"');
    expect(stub.requests).toHaveLength(0);
  });
});
