// Validates an OpenAPI document read from stdin with @seriousme/openapi-schema-validator
// (ESM-only, so jest's CommonJS runtime cannot load it; the test runs this file with node).
import { Validator } from '@seriousme/openapi-schema-validator';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const validator = new Validator();
const result = await validator.validate(JSON.parse(Buffer.concat(chunks).toString('utf8')));
process.stdout.write(JSON.stringify({ valid: result.valid, errors: result.errors ?? null, version: validator.version }));
