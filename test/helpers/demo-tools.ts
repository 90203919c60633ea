/**
 * The two declared tools of the example config (broker.config.example.json), as
 * test configs write them: one read with an output schema, one idempotent write.
 */
export const demoGetContactTool = {
  name: 'demo.getContact',
  description: 'Fetch one contact',
  method: 'GET',
  path: '/contacts/{id}',
  input: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
  output: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
} as const;

export const demoCreateOrderTool = {
  name: 'demo.createOrder',
  method: 'POST',
  path: '/orders',
  idempotent: true,
  input: {
    type: 'object',
    required: ['sku', 'qty'],
    properties: { sku: { type: 'string' }, qty: { type: 'integer', minimum: 1 } },
  },
} as const;

/**
 * A write without an idempotency key that can be found by the job id it
 * carries (`clientRef`), when an earlier try may have made it.
 */
export const findableNoteTool = {
  name: 'notes.log',
  method: 'POST',
  path: '/notes',
  input: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
  reference: { in: 'body', name: 'clientRef' },
  verify: { method: 'GET', path: '/notes', query: { clientRef: '{reference}' }, found: '/data/0' },
} as const;
