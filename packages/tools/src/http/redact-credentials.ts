/** Shorter values are left alone: blanking "abc" everywhere would mangle answers and protect nothing. */
const MIN_SECRET_LENGTH = 8;

export const BLANKED = '[redacted]';

/**
 * The forms in which an upstream could quote back the credentials a call
 * sent: each auth header's value as sent, the token after its scheme
 * ("Bearer <token>", "token <token>"), and their URL-encodings.
 */
export function credentialForms(authHeaders: Readonly<Record<string, string>>): string[] {
  const forms = new Set<string>();
  for (const value of Object.values(authHeaders)) {
    const bare = value.replace(/^\S+\s+/, '');
    for (const form of [value, bare, encodeURIComponent(value), encodeURIComponent(bare)]) {
      if (form.length >= MIN_SECRET_LENGTH) forms.add(form);
    }
  }
  // Longest first, so a header value is blanked whole before its token part is looked for.
  return [...forms].sort((a, b) => b.length - a.length);
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
