import type { RequestHandler } from 'express';
import { openApiDocument } from '../openapi/document';
import { renderDocsPage } from '../openapi/render-html';

/**
 * `GET /docs`: the OpenAPI document as a web page. Rendered on the server
 * from the same document as `/openapi.json`: no script and nothing from a CDN,
 * so it works offline and under helmet's default Content-Security-Policy.
 */
export function docsPage(): RequestHandler {
  const html = renderDocsPage(openApiDocument());
  return (_req, res) => {
    res.type('html').send(html);
  };
}
