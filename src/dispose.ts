/**
 * `Symbol.dispose` and `Symbol.asyncDispose` where the runtime lacks them (Node before 20.4 and
 * 18.18; Bun and Deno have them), defined as Node defines them (`Symbol.for('nodejs.dispose')`),
 * so `using` compiled by TypeScript or esbuild finds the same symbols on socket2's objects as on
 * Node's own. Imported for its effect by the modules whose classes carry them.
 */
const symbols = Symbol as { dispose?: symbol; asyncDispose?: symbol }
symbols.dispose ??= Symbol.for('nodejs.dispose')
symbols.asyncDispose ??= Symbol.for('nodejs.asyncDispose')
