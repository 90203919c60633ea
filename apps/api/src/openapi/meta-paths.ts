import { json, NO_AUTH, problems, type PathItem } from './operation';

const status = (value: string) => ({ type: 'object', required: ['status'], properties: { status: { const: value } } });

/** Probes and this document itself. */
export const metaPaths: Record<string, PathItem> = {
  '/healthz': {
    get: { operationId: 'healthz', summary: 'The process is up (never touches Redis)', tags: ['meta'], security: NO_AUTH, responses: { '200': json('Up', status('ok')) } },
  },
  '/readyz': {
    get: {
      operationId: 'readyz',
      summary: 'Redis answers: the instance can take jobs',
      tags: ['meta'],
      security: NO_AUTH,
      responses: { '200': json('Ready', status('ready')), ...problems(503) },
    },
  },
  '/openapi.json': {
    get: {
      operationId: 'openapi',
      summary: 'This document (OpenAPI 3.1)',
      tags: ['meta'],
      security: NO_AUTH,
      responses: { '200': json('The document', { type: 'object' }) },
    },
  },
  '/docs': {
    get: {
      operationId: 'docs',
      summary: 'This document as a web page',
      tags: ['meta'],
      security: NO_AUTH,
      responses: { '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } },
    },
  },
};
