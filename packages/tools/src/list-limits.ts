/**
 * A list tool returns at most this many records unless told otherwise: its
 * descriptions and input schemas state it, and pagination enforces it.
 * @defaultValue 10000
 */
export const DEFAULT_MAX_RECORDS = 10_000;
