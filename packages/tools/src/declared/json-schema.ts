import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import Ajv2019 from 'ajv/dist/2019';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { FieldError } from '@broker/shared/errors/problem';
import type { ValidationResult } from '../types';

const OPTIONS = { allErrors: true, strict: false, useDefaults: false } as const;

/** A schema with no `$schema` is draft-07, as declared tools have always been read. */
const DRAFT_07 = 'http://json-schema.org/draft-07/schema';

/**
 * One Ajv instance per JSON Schema dialect, for every schema declared in the
 * config file; a schema is compiled by the dialect its `$schema` names. One
 * instance for all would read 2020-12 keywords (`prefixItems`,
 * `unevaluatedProperties`, `dependentRequired`) as unknown and validate
 * nothing with them. Validators are compiled once, when the catalogue is
 * built, never per request.
 */
const dialects = new Map<string, () => Ajv>([
  [DRAFT_07, () => new Ajv(OPTIONS)],
  ['https://json-schema.org/draft/2019-09/schema', () => new Ajv2019(OPTIONS)],
  ['https://json-schema.org/draft/2020-12/schema', () => new Ajv2020(OPTIONS)],
]);
const instances = new Map<string, Ajv>();

function ajvFor(schema: Record<string, unknown>): Ajv {
  const named = schema.$schema;
  const dialect = named === undefined ? DRAFT_07 : typeof named === 'string' ? named.replace(/#$/, '') : '';
  const make = dialects.get(dialect);
  if (!make) throw new Error(`$schema ${JSON.stringify(named)} is not a dialect the broker validates (draft-07, 2019-09 or 2020-12)`);
  let ajv = instances.get(dialect);
  if (!ajv) {
    ajv = make();
    addFormats(ajv);
    instances.set(dialect, ajv);
  }
  return ajv;
}

function pointerOf(error: ErrorObject): string {
  if (error.keyword === 'required') {
    const missing = String((error.params as { missingProperty: string }).missingProperty);
    return `${error.instancePath}/${missing.replace(/~/g, '~0').replace(/\//g, '~1')}`;
  }
  if (error.keyword === 'additionalProperties') {
    const extra = String((error.params as { additionalProperty: string }).additionalProperty);
    return `${error.instancePath}/${extra.replace(/~/g, '~0').replace(/\//g, '~1')}`;
  }
  return error.instancePath;
}

export function toFieldErrors(errors: readonly ErrorObject[] | null | undefined): FieldError[] {
  return (errors ?? []).map((e) => ({ pointer: pointerOf(e), message: e.message ?? 'is invalid' }));
}

/** Compiles a JSON Schema in the dialect its `$schema` names; throws with Ajv's message when the schema itself is invalid. */
export function compileJsonSchema(schema: Record<string, unknown>): (value: unknown) => ValidationResult {
  const validate: ValidateFunction = ajvFor(schema).compile(schema);
  return (value) => (validate(value) ? { ok: true, value } : { ok: false, errors: toFieldErrors(validate.errors) });
}
