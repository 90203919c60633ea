import { createHash } from 'node:crypto';
import { EXIT, UsageError } from '../errors';
import { print, type Command } from '../command';

export const keysHash: Command = {
  path: 'keys hash',
  usage: 'broker keys hash <key | ->',
  summary: 'print the sha256 (hex) of a key, for storing a key hashed',
  details: 'With "-" the key is read from stdin (one line), so it stays out of your shell history.',
  options: {},
  positionals: { min: 1, max: 1 },
  async run({ positionals }, _settings, io) {
    const arg = positionals[0]!;
    const key = arg === '-' ? (await io.stdin()).replace(/\r?\n$/, '') : arg;
    if (key === '') throw new UsageError('the key is empty');
    const sha256 = createHash('sha256').update(key, 'utf8').digest('hex');
    print(io, { sha256 }, () => sha256);
    return EXIT.ok;
  },
};
