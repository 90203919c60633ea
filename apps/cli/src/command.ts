import type { OptionSpec, ParsedArgs } from './args';
import type { CliSettings } from './config';

/** What a command writes; `json` is set by `--json`. */
export interface Io {
  json: boolean;
  out(text: string): void;
  err(text: string): void;
  /** Reads all of stdin (for `keys hash -`). */
  stdin(): Promise<string>;
}

/** One leaf command: `broker <group> <name> …`. */
export interface Command {
  /** `jobs get` */
  path: string;
  usage: string;
  summary: string;
  /** Text after the options in `--help`. */
  details?: string;
  options: Record<string, OptionSpec>;
  positionals: { min: number; max: number };
  run(args: ParsedArgs, settings: CliSettings, io: Io): Promise<number>;
}

/** JSON with `--json`, else the human text. */
export function print(io: Io, value: unknown, human: () => string): void {
  io.out(io.json ? JSON.stringify(value) : human());
}
