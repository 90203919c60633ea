import type { RequestHandler } from 'express';
import { openApiDocument } from '../openapi/document';

/** `GET /openapi.json`: the OpenAPI 3.1 document, public like any API reference. */
export function openapiJson(): RequestHandler {
  const body = JSON.stringify(openApiDocument());
  return (_req, res) => {
    res.type('application/json').send(body);
  };
}
