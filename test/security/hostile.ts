import fc from 'fast-check';

/*
 * Hostile input for the fuzz suites, as fast-check arbitraries. Bodies are
 * built as JSON *text*, so a "__proto__" key reaches the server as an own key
 * of the parsed object, exactly as a hostile client would send it (an object
 * literal would have set the prototype instead and lost the key).
 */

export const DANGEROUS_KEYS = ['__proto__', 'constructor', 'prototype', 'polluted', 'toString', 'valueOf', 'hasOwnProperty', 'then', '__defineGetter__'];

/** Latin-1 text Node lets through in a header value (no control characters besides tab). */
export const headerText = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({
    unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(0x09)).map((c) => String.fromCharCode(c)),
    maxLength,
  });

/** A string of `n` characters, cheap to make at any size (fc.string is slow past a few thousand). */
const sized = (min: number, max: number, char = 'a') => fc.integer({ min, max }).map((n) => char.repeat(n));

const key = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...DANGEROUS_KEYS) },
  { weight: 2, arbitrary: fc.constantFrom('tool', 'input', 'connection', 'callbackUrl', 'id', 'sku', 'qty', 'accessToken', 'jsonrpc', 'method', 'params') },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: sized(1000, 20_000, 'k') },
);

const scalarText = fc.oneof(
  fc.constantFrom('null', 'true', 'false', '0', '-0', '-1', '1.5', '1e308', '-1e308', '9007199254740993', '1e-400', '1E2'),
  fc.constantFrom('"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '""', '"__proto__"', '"constructor"', '"demo.getContact"', '"demo.createOrder"'),
  fc.constantFrom('"http://127.0.0.1/x"', '"http://0x7f.1/"', '"http://[::ffff:127.0.0.1]/"', '"http://169.254.169.254/latest"', '"javascript:alert(1)"', '"file:///etc/passwd"'),
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => JSON.stringify(s)),
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  sized(10_000, 300_000).map((s) => `"${s}"`),
);

/** Any JSON value as text, with dangerous keys and odd scalars. */
export const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalarText, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
  object: fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
})).value;

/** Nesting far deeper than any schema walker or JSON.stringify recursion expects. */
export const deepText: fc.Arbitrary<string> = fc.tuple(fc.integer({ min: 50, max: 150_000 }), fc.constantFrom('array', 'object', 'proto')).map(([n, kind]) => {
  if (kind === 'array') return `${'['.repeat(n)}${']'.repeat(n)}`;
  const open = kind === 'proto' ? '{"__proto__":' : '{"a":';
  return `${open.repeat(n)}1${'}'.repeat(n)}`;
});

/**
 * A JSON object with chosen fields, each mostly a plausible value, else hostile text or left out
 * (`optional` fields are mostly left out), plus the odd hostile extra key.
 */
export function objectWith(fields: Record<string, fc.Arbitrary<string>>, optional: readonly string[] = []): fc.Arbitrary<string> {
  const names = Object.keys(fields);
  const field = (name: string) =>
    fc.oneof(
      { weight: 10, arbitrary: fields[name]!.map((v) => [name, v] as const) },
      { weight: 2, arbitrary: fc.oneof(jsonText, deepText).map((v) => [name, v] as const) },
      { weight: optional.includes(name) ? 20 : 1, arbitrary: fc.constant(null) },
    );
  return fc
    .tuple(
      fc.tuple(...names.map(field)),
      fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.tuple(key, jsonText), { minLength: 1, maxLength: 2 }) }),
    )
    .map(([chosen, extra]) => {
      const entries = [...chosen.filter((e): e is readonly [string, string] => e !== null), ...extra];
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
    });
}

/** Ways to spoil bytes of a body: cut it, add garbage, a BOM, invalid UTF-8, or make it huge. */
export function spoiled(text: fc.Arbitrary<string>): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 12, arbitrary: text.map((t) => Buffer.from(t, 'utf8')) },
    { weight: 1, arbitrary: fc.tuple(text, fc.nat()).map(([t, n]) => Buffer.from(t.slice(0, n % (t.length + 1)), 'utf8')) },
    { weight: 1, arbitrary: text.map((t) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(t)])) },
    {
      weight: 1,
      arbitrary: fc.tuple(text, fc.nat(), fc.constantFrom([0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xc0, 0xaf], [0x00])).map(([t, at, bad]) => {
        const b = Buffer.from(t, 'utf8');
        const i = b.length === 0 ? 0 : at % b.length;
        return Buffer.concat([b.subarray(0, i), Buffer.from(bad), b.subarray(i)]);
      }),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
    { weight: 1, arbitrary: fc.constantFrom(Buffer.alloc(0), Buffer.from('{'), Buffer.from('null'), Buffer.from('[]'), Buffer.from('"x"'), Buffer.from('{"a":1}{"b":2}')) },
    // Just over 1 MiB: 413 before any parsing.
    { weight: 1, arbitrary: fc.constant(Buffer.from(`{"tool":"${'x'.repeat(1024 * 1024 + 10)}"}`)) },
  );
}

export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      undefined,
      '',
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'application/json; charset=utf-7',
      'application/json; charset="utf-8"; x=y',
      'application/problem+json',
      'application/merge-patch+json',
      'text/plain',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=xyz',
      'application/octet-stream',
      '*/*',
      'application/json, text/plain',
      'APPLICATION/JSON',
      ';;;',
    ),
  },
  { weight: 1, arbitrary: headerText(40) },
);

/** Extra headers (flat raw list): repeats of sensitive ones, long ones, odd request ids and encodings. */
export const extraHeaders = (authValues: readonly string[]): fc.Arbitrary<string[]> =>
  fc
    .array(
      fc.oneof(
        fc.tuple(fc.constant('authorization'), fc.oneof(fc.constantFrom(...authValues), headerText(60))),
        fc.tuple(fc.constant('content-type'), fc.constantFrom('application/json', 'text/plain', 'application/xml')),
        fc.tuple(fc.constant('idempotency-key'), fc.oneof(fc.constantFrom('k-1', 'k-2', '', ' '), headerText(300))),
        fc.tuple(fc.constant('x-request-id'), fc.oneof(headerText(50), fc.constantFrom('../../etc', 'a\tb', '<script>'))),
        fc.tuple(fc.constantFrom('content-encoding'), fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown', 'gzip, gzip')),
        fc.tuple(fc.constantFrom('x-forwarded-for', 'forwarded', 'x-forwarded-host'), fc.oneof(headerText(40), fc.constant('127.0.0.1'))),
        // Not empty: Node itself answers a request without a Host a bare 400, before any listener (documented).
        fc.tuple(fc.constant('host'), fc.oneof(headerText(40), fc.constantFrom('evil.example', '127.0.0.1:1'))).filter(([, v]) => v.trim() !== ''),
        fc.tuple(fc.constantFrom('accept', 'accept-encoding', 'accept-charset'), headerText(40)),
        fc.tuple(fc.constant('x-long'), sized(1000, 12_000, 'L')),
        fc.tuple(fc.constant('expect'), fc.constantFrom('100-continue', 'nonsense')),
        fc.tuple(
          fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/).filter((n) => n !== 'host'),
          headerText(80),
        ),
      ),
      { maxLength: 6 },
    )
    .map((pairs) => pairs.flat());

/** Mostly none: each request gets a few odd headers now and then. */
export const someHeaders = (authValues: readonly string[]): fc.Arbitrary<string[]> =>
  fc.oneof({ weight: 2, arbitrary: fc.constant<string[]>([]) }, { weight: 1, arbitrary: extraHeaders(authValues) });

/** A bearer header among the ones a fuzz run should try: good keys dominate so requests get past auth. */
export const authorization = (goodTokens: readonly string[], otherTokens: readonly string[] = []): fc.Arbitrary<string | undefined> =>
  fc.oneof(
    { weight: 24, arbitrary: fc.constantFrom(...goodTokens.map((t) => `Bearer ${t}`)) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        undefined,
        '',
        'Bearer',
        'Bearer ',
        'bearer nonsense',
        'Basic YWRtaW46YWRtaW4=',
        'Token abc',
        ...otherTokens.map((t) => `Bearer ${t}`),
        ...goodTokens.map((t) => `Bearer ${t}x`),
        ...goodTokens.map((t) => `Bearer  ${t}  `),
        ...goodTokens.map((t) => `BEARER ${t}`),
      ),
    },
    { weight: 1, arbitrary: headerText(80).map((s) => `Bearer ${s}`) },
    { weight: 1, arbitrary: sized(5000, 12_000, 'B').map((s) => `Bearer ${s}`) },
  );

/** Path segments an attacker would try in place of an id or a name. */
export const hostileSegment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    '%5F%5Fproto%5F%5F',
    '..',
    '%2e%2e',
    '..%2F..%2Fetc%2Fpasswd',
    '%00',
    '%E0%A4%A',
    '%',
    '%ZZ',
    '%C0%AE',
    '%F0%9F%92%A9',
    'job_00000000000000000000000000000000',
    'job_' + 'f'.repeat(32),
    'JOB_' + 'F'.repeat(32),
    '*',
    '%2A',
    'a:b:c',
    'stripe:evt_1',
    'stripe%3Aevt_%2A',
    'github:*',
  ),
  fc.string({ maxLength: 30 }).map((s) => encodeURIComponent(s)),
  fc.stringMatching(/^[A-Za-z0-9._~-]{1,40}$/),
  sized(2000, 7000, 'x'),
);

/** Query strings: repeated keys, arrays, nested brackets, odd encodings. */
export function hostileQuery(names: readonly string[]): fc.Arbitrary<string> {
  const value = fc.oneof(
    fc.constantFrom('', '0', '-1', '1', '30000', '30001', '1e3', '0x10', 'NaN', 'Infinity', '99999999999999999999', '2026-01-01T00:00:00Z', 'null', '%00', '%E0%A4%A'),
    fc.string({ maxLength: 20 }).map((s) => encodeURIComponent(s)),
    sized(100, 3000, 'q'),
  );
  const name = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...names) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        ...names.map((n) => `${n}[]`),
        ...names.map((n) => `${n}[__proto__]`),
        '__proto__[polluted]',
        'constructor[prototype][polluted]',
        '__proto__.polluted',
      ),
    },
  );
  return fc.array(fc.tuple(name, value), { maxLength: 5 }).map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));
}
