import { Writable } from 'node:stream';
import { createLogger } from '@broker/shared/logger';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'test', destination }) };
}

describe('logger', () => {
  it('redacts authorization headers and secret-like fields', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        headers: { authorization: 'Bearer sk_live_1', 'x-api-key': 'k_2' },
        req: { headers: { authorization: 'Bearer sk_live_3' } },
        connection: { accessToken: 'at_4', refreshToken: 'rt_5', clientSecret: 'cs_6' },
        token: 'tok_7',
        tool: 'demo.getContact',
      },
      'call',
    );
    const line = lines.join('');
    for (const secret of ['sk_live_1', 'k_2', 'sk_live_3', 'at_4', 'rt_5', 'cs_6', 'tok_7']) expect(line).not.toContain(secret);
    expect(line).toContain('demo.getContact');
    expect(line).toContain('[redacted]');
  });
});
