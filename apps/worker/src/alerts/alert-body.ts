import { ALERT_TITLES, type AlertNotice } from './alert';

const MAX_DETAILS_CHARS = 2500;

function detailsText(notice: AlertNotice): string {
  const text = JSON.stringify(notice.details, null, 2);
  return text.length > MAX_DETAILS_CHARS ? `${text.slice(0, MAX_DETAILS_CHARS)}\n…` : text;
}

/** A Slack incoming-webhook body: `text` for notifications, `blocks` for the message itself. */
export function slackBody(notice: AlertNotice): Record<string, unknown> {
  const icon = notice.severity === 'critical' ? ':rotating_light:' : ':warning:';
  const repeat = notice.count > 1 ? ` (${notice.count} times since the last alert)` : '';
  return {
    text: `${icon} ${ALERT_TITLES[notice.kind]}: ${notice.summary}${repeat}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `${ALERT_TITLES[notice.kind]}`.slice(0, 150) } },
      { type: 'section', text: { type: 'mrkdwn', text: `${icon} ${notice.summary}${repeat}`.slice(0, 3000) } },
      { type: 'section', text: { type: 'mrkdwn', text: `\`\`\`${detailsText(notice)}\`\`\`` } },
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `agent-request-broker · \`${notice.cause}\` · ${notice.severity} · ${notice.at}` }],
      },
    ],
  };
}

/**
 * The body of a `standard` alert, in Standard Webhooks' recommended shape
 * (`type`, `timestamp`, `data`), signed like every webhook the broker sends.
 */
export function standardBody(notice: AlertNotice): Record<string, unknown> {
  return {
    type: `broker.alert.${notice.kind}`,
    timestamp: notice.at,
    data: {
      id: notice.id,
      kind: notice.kind,
      cause: notice.cause,
      severity: notice.severity,
      summary: notice.summary,
      count: notice.count,
      windowMs: notice.windowMs,
      details: notice.details,
    },
  };
}
