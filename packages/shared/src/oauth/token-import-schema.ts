import { z } from 'zod';

/** @defaultValue 16 KiB: JWT access tokens run to a few KiB; anything longer is not a token. */
const TOKEN_MAX = 16 * 1024;
const TEN_YEARS_S = 10 * 365 * 24 * 3600;

/**
 * Body of `PUT /v1/integrations/{name}/connections/{connection}/token`
 * (docs/oauth.md): an operator seeds or replaces a connection's tokens.
 * `expiresIn` is in seconds, as in an OAuth token response; `expiresAt` is
 * ISO 8601. Neither: the token is used until the upstream answers 401.
 */
export const putConnectionTokenBodySchema = z
  .strictObject({
    accessToken: z.string().min(1).max(TOKEN_MAX),
    refreshToken: z.string().min(1).max(TOKEN_MAX).optional(),
    expiresIn: z.int().positive().max(TEN_YEARS_S).optional(),
    expiresAt: z.iso.datetime({ offset: true }).optional(),
  })
  .refine((body) => body.expiresIn === undefined || body.expiresAt === undefined, {
    message: 'send expiresIn or expiresAt, not both',
    path: ['expiresAt'],
  });

export type PutConnectionTokenBody = z.output<typeof putConnectionTokenBodySchema>;
