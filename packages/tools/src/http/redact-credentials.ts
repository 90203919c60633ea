import { jsonStringForms } from './json-forms';

/** Shorter values are left alone: blanking "abc" everywhere would mangle answers and protect nothing. */
const MIN_SECRET_LENGTH = 8;

export const BLANKED = '[redacted]';

/**
 * The forms in which an answer could quote `values` back: as is, URL-encoded,
 * and as a JSON encoder may escape them in a string (see jsonStringForms).
 * Longest first, so a whole value is blanked before a part of it is looked for.
 * @param minLength - Shorter forms are left out.
 */
export function quotedForms(values: Iterable<string>, minLength = MIN_SECRET_LENGTH): string[] {
  const forms = new Set<string>();
  for (const value of values) {
    for (const form of [value, encodeURIComponent(value), ...jsonStringForms(value)]) {
      if (form.length >= minLength) forms.add(form);
    }
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

/**
 * The forms in which an upstream could quote back the credentials a call
 * sent (see quotedForms): each auth header's value as sent, and the token
 * after its scheme ("Bearer <token>", "token <token>").
 */
export function credentialForms(authHeaders: Readonly<Record<string, string>>): string[] {
  return quotedForms(Object.values(authHeaders).flatMap((value) => [value, value.replace(/^\S+\s+/, '')]));
}

/**
 * An upstream's answer with every credential the call sent blanked out.
 * Error pages and debug endpoints echo request headers, and the answer
 * becomes the job's result or error message, which the agent reads and
 * Redis stores: an agent must never learn the broker's upstream credentials.
 */
export function blankCredentials(text: string, forms: readonly string[]): string {
  let out = text;
  for (const form of forms) if (out.includes(form)) out = out.split(form).join(BLANKED);
  return out;
}
