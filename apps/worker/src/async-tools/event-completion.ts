import { readJsonPath, scalarText } from '@broker/shared/async/json-path';
import type { AsyncWait } from '@broker/shared/async/wait-state';
import type { EventStore, StoredEvent } from '@broker/redis/webhooks/event-store';
import { ToolError, type RunnableTool } from '@broker/tools';

export type EventOutcome = { kind: 'done'; value: unknown } | { kind: 'failed'; error: ToolError };

/** An event's body as the route saw it: parsed JSON, else the text. */
function payloadOf(event: StoredEvent): unknown {
  const text = event.rawBody.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** What a matching event means for the job: its data at `resultPath` (shaped by the tool), or a failure. */
export function outcomeOfEvent(tool: RunnableTool, input: unknown, wait: AsyncWait, event: StoredEvent): EventOutcome {
  const webhook = wait.webhook!;
  if (webhook.failEvents.includes(event.type)) {
    return {
      kind: 'failed',
      error: new ToolError('UPSTREAM_ERROR', {
        message: `${tool.name}: the upstream reports that "${wait.reference}" failed (event ${event.type}, stored as ${event.id})`,
        retryable: false,
      }),
    };
  }
  const payload = payloadOf(event);
  const value = webhook.resultPath ? readJsonPath(payload, webhook.resultPath) : payload;
  return { kind: 'done', value: tool.resultFromEvent ? tool.resultFromEvent(value, input) : value };
}

/** Events looked at, at most, per type when searching stored events (they are few: those since the job began). */
const MAX_SCANNED = 1000;

/**
 * A stored event that carries the reference, received since `sinceMs`: the
 * one that arrived before the job began waiting (an upstream that answers its
 * webhook before our first call returns), or one whose correlation was missed.
 * Newest first; success and failure types alike.
 */
export async function findStoredEvent(events: EventStore, wait: AsyncWait, sinceMs: number): Promise<StoredEvent | undefined> {
  const webhook = wait.webhook;
  if (!webhook) return undefined;
  for (const type of [...webhook.events, ...webhook.failEvents]) {
    let after: { score: number; id: string } | undefined;
    for (let scanned = 0; scanned < MAX_SCANNED;) {
      const page = await events.list({ sources: [webhook.source], type, since: sinceMs, limit: 100, after });
      for (const summary of page.events) {
        const event = await events.get(summary.id);
        if (event && scalarText(readJsonPath(payloadOf(event), webhook.path)) === wait.reference) return event;
      }
      scanned += page.events.length;
      if (!page.next) break;
      after = page.next;
    }
  }
  return undefined;
}
