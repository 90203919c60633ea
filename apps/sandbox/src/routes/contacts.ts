import { contactExists, contactFor } from '../contacts';
import { HttpError } from '../http-error';
import { sendJson } from '../http';
import type { Route } from './route';

export const getContact: Route = {
  method: 'GET',
  pattern: /^\/contacts\/([^/]+)$/,
  handle({ res, params: [id = ''] }) {
    if (!contactExists(id)) throw new HttpError(404, `contact ${id} not found`);
    sendJson(res, 200, contactFor(id));
  },
};
