import { parseConfig } from '@broker/shared/config/load';
import { createCatalogue } from '@broker/tools/descriptors';

/**
 * A declared tool's JSON Schemas are compiled in the dialect their `$schema`
 * names (draft-07 when none): 2020-12 keywords that draft-07 does not know
 * would otherwise be skipped, and inputs they forbid would reach the upstream.
 */

const ADDRESS_2020 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: { address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } }, required: ['city'] } },
  properties: {
    name: { type: 'string' },
    address: { $ref: '#/$defs/address' },
    point: { type: 'array', prefixItems: [{ type: 'number' }, { type: 'number' }], items: false },
    card: { type: 'string' },
    cvc: { type: 'string' },
  },
  dependentRequired: { card: ['cvc'] },
  additionalProperties: false,
};

function catalogueWith(input: Record<string, unknown>) {
  return createCatalogue(parseConfig({ integrations: { crm: { baseUrl: 'http://127.0.0.1:9', tools: [{ name: 'crm.save', method: 'POST', path: '/save', input }] } } }));
}

const errorsOf = (input: Record<string, unknown>, value: unknown) => {
  const result = catalogueWith(input).get('crm.save')!.validateInput(value);
  return result.ok ? [] : result.errors;
};

describe('declared tool schemas, by dialect', () => {
  it('2020-12: prefixItems, items: false, dependentRequired and $defs refs are all enforced', () => {
    expect(errorsOf(ADDRESS_2020, { name: 'Ada', address: { city: 'London' }, point: [1, 2], card: '4242', cvc: '123' })).toEqual([]);
    expect(errorsOf(ADDRESS_2020, { point: ['north', 2] })).toEqual([{ pointer: '/point/0', message: 'must be number' }]);
    expect(errorsOf(ADDRESS_2020, { point: [1, 2, 3] })).toEqual([{ pointer: '/point', message: 'must NOT have more than 2 items' }]);
    expect(errorsOf(ADDRESS_2020, { card: '4242' })).toEqual([{ pointer: '', message: 'must have property cvc when property card is present' }]);
    expect(errorsOf(ADDRESS_2020, { address: { street: 'Baker St' } })).toEqual([{ pointer: '/address/city', message: "must have required property 'city'" }]);
    expect(errorsOf(ADDRESS_2020, { nickname: 'x' })).toEqual([{ pointer: '/nickname', message: 'must NOT have additional properties' }]);
  });

  it('2019-09 is read as 2019-09 (dependentRequired)', () => {
    const schema = { ...ADDRESS_2020, $schema: 'https://json-schema.org/draft/2019-09/schema', properties: { card: { type: 'string' }, cvc: { type: 'string' } } };
    expect(errorsOf(schema, { card: '4242' })).toEqual([{ pointer: '', message: 'must have property cvc when property card is present' }]);
  });

  it('no $schema, or draft-07 named, is draft-07 as before: tuple items by array', () => {
    const tuple = { type: 'object', properties: { point: { type: 'array', items: [{ type: 'number' }, { type: 'number' }], additionalItems: false } } };
    for (const schema of [tuple, { ...tuple, $schema: 'http://json-schema.org/draft-07/schema#' }]) {
      expect(errorsOf(schema, { point: [1, 2] })).toEqual([]);
      expect(errorsOf(schema, { point: ['x', 2] })).toEqual([{ pointer: '/point/0', message: 'must be number' }]);
    }
  });

  it('names each dialect with or without its trailing #', () => {
    for (const $schema of ['https://json-schema.org/draft/2020-12/schema#', 'https://json-schema.org/draft/2019-09/schema#', 'http://json-schema.org/draft-07/schema']) {
      expect(() => catalogueWith({ $schema, type: 'object' })).not.toThrow();
    }
    const point = {
      $schema: 'https://json-schema.org/draft/2020-12/schema#',
      type: 'object',
      properties: { p: { type: 'array', prefixItems: [{ type: 'number' }], items: false } },
    };
    expect(errorsOf(point, { p: [1, 2] })).toEqual([{ pointer: '/p', message: 'must NOT have more than 1 items' }]);
  });

  it('refuses a dialect it does not validate, naming it, when the catalogue is built', () => {
    expect(() => catalogueWith({ $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' })).toThrow(/draft-04.*not a dialect the broker validates/);
  });
});
