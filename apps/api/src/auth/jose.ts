import type * as Jose from 'jose' with { 'resolution-mode': 'import' };

export type { Jose };

let loading: Promise<typeof Jose> | undefined;

/**
 * jose, loaded once. jose 6 ships ES modules only and the api compiles to
 * CommonJS (module Node16), where TypeScript refuses a static import of an ES
 * module; `import()` stays a real dynamic import in the output and loads it on
 * every Node the api supports. Only the `/mcp` access-token path calls this.
 */
export function loadJose(): Promise<typeof Jose> {
  return (loading ??= import('jose'));
}
