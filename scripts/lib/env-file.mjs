// Minimal dotenv-style reading and writing, enough for `.env` and `.data/dev.env`.
// Deliberately no dependency: start.mjs runs before anything is guaranteed built.

import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/;

/**
 * Parses KEY=VALUE lines (an `export ` prefix allowed, `#` comment lines skipped).
 * Values may be wrapped in single or double quotes; an unquoted value ends at ` #`.
 * Escape sequences are not interpreted: secrets are taken byte for byte.
 *
 * @param {string} text
 * @returns {Map<string, string>}
 */
export function parseEnv(text) {
  const result = new Map();
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*(#|$)/.test(line)) continue;
    const match = LINE.exec(line);
    if (!match) continue;
    const [, key, raw = ''] = match;
    result.set(key, unquote(raw));
  }
  return result;
}

/** @param {string} raw */
function unquote(raw) {
  const quote = raw[0];
  if ((quote === '"' || quote === "'") && raw.length >= 2 && raw.endsWith(quote)) return raw.slice(1, -1);
  const comment = raw.search(/\s#/);
  return comment === -1 ? raw : raw.slice(0, comment).trimEnd();
}

/**
 * @param {string} path
 * @returns {Map<string, string>} empty when the file does not exist
 */
export function readEnvFile(path) {
  return existsSync(path) ? parseEnv(readFileSync(path, 'utf8')) : new Map();
}

/**
 * Copies a file's values into `env` without overriding what is already set.
 * Empty values are skipped: `.env.example` copied as-is must not blank out
 * secrets that would otherwise be generated.
 *
 * @param {string} path
 * @param {NodeJS.ProcessEnv} env
 * @returns {string[]} the names that were loaded
 */
export function loadEnvFile(path, env) {
  const loaded = [];
  for (const [key, value] of readEnvFile(path)) {
    if (value === '' || env[key]) continue;
    env[key] = value;
    loaded.push(key);
  }
  return loaded;
}

/**
 * Writes `export NAME=value` lines (shell-sourceable), readable by the owner only
 * because the values are secrets. Written to a temporary file and renamed, so an
 * interrupted write never leaves a half file that would rotate every key.
 *
 * @param {string} path
 * @param {Map<string, string>} values
 * @param {string} header comment placed at the top
 */
export function writeExportFile(path, values, header) {
  mkdirSync(dirname(path), { recursive: true });
  const lines = [...values].map(([key, value]) => `export ${key}=${shellQuote(value)}`);
  const body = `${header
    .split('\n')
    .map((l) => `# ${l}`)
    .join('\n')}\n${lines.join('\n')}\n`;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, body, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/**
 * Generated values are base64/base64url and need no quoting; anything else is
 * single-quoted so `source` reads it back verbatim.
 * @param {string} value
 */
function shellQuote(value) {
  return /^[A-Za-z0-9_\-+/=.:]*$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}
