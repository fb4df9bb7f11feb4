// Types of what the benchmark takes from lib.mjs.
/** Runtime versions, pinned so the cache is reused and every run tests the same thing. */
export declare const versions: Record<'node20' | 'node22' | 'node24' | 'bun' | 'deno', string>
/** The command line that runs `script` under Bun or Deno, each unpacked from the registry once. */
export declare function runtimeCommand(runtime: 'bun' | 'deno', script: string): [string, string[]]
