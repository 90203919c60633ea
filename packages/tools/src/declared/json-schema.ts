import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FieldError } from '@broker/shared/errors/problem';
import type { ValidationResult } from '../types';

/**
 * One Ajv instance for every schema declared in the config file. Validators
 * are compiled once, when the catalogue is built, never per request.
 */
const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false });
addFormats(ajv);

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

/** Compiles a JSON Schema; throws with Ajv's message when the schema itself is invalid. */
export function compileJsonSchema(schema: Record<string, unknown>): (value: unknown) => ValidationResult {
  const validate: ValidateFunction = ajv.compile(schema);
  return (value) => (validate(value) ? { ok: true, value } : { ok: false, errors: toFieldErrors(validate.errors) });
}
