/**
 * GitHub has no idempotency keys, so every try of `createIssue` carries the
 * job's reference in the issue body, where `verify` can find it: an HTML
 * comment, which GitHub's Markdown renderer does not show.
 */
export const referenceMarker = (reference: string) => `<!-- broker-reference: ${reference} -->`;

/** The body to send: the agent's Markdown, then the marker (alone when there is no body). */
export function withReference(body: string | undefined, reference: string): string {
  return body ? `${body}\n\n${referenceMarker(reference)}` : referenceMarker(reference);
}

/** Our marker at the end of a body, with the blank line `withReference` put before it. */
const TRAILING_MARKER = /(?:\r?\n\r?\n)?<!-- broker-reference: \S+ -->$/;

/**
 * The body as the agent wrote it: the marker is the broker's bookkeeping, as
 * invisible in a tool's output as it is on github.com. An issue opened with
 * no body comes back with none (null), as GitHub answers for such an issue.
 */
export function withoutReference(body: string | null): string | null {
  if (body === null || !TRAILING_MARKER.test(body)) return body;
  const rest = body.replace(TRAILING_MARKER, '');
  return rest === '' ? null : rest;
}
