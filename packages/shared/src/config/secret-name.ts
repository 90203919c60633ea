import { z } from 'zod';

/** A secret is always named, never inlined: the secrets provider resolves it at use. */
export const secretName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a secret name (letters, digits, _), not a secret value');
