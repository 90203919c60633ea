import { createHash } from 'node:crypto';

export interface Contact {
  id: string;
  name: string;
  email: string;
}

const FIRST_NAMES = ['Ada', 'Grace', 'Alan', 'Katherine', 'Linus', 'Barbara', 'Dennis', 'Frances'];
const LAST_NAMES = ['Lovelace', 'Hopper', 'Turing', 'Johnson', 'Torvalds', 'Liskov', 'Ritchie', 'Allen'];

/**
 * A contact derived from its id alone, so the same id always yields the same contact
 * across restarts and processes (tests and demos can assert on it).
 */
export function contactFor(id: string): Contact {
  const digest = createHash('sha256').update(id).digest();
  const first = FIRST_NAMES[digest[0]! % FIRST_NAMES.length]!;
  const last = LAST_NAMES[digest[1]! % LAST_NAMES.length]!;
  const suffix = digest.subarray(2, 5).toString('hex');
  return {
    id,
    name: `${first} ${last}`,
    email: `${first}.${last}.${suffix}@example.com`.toLowerCase(),
  };
}

/** Ids starting with `missing` do not exist, so callers can exercise a 404. */
export function contactExists(id: string): boolean {
  return !id.startsWith('missing');
}
