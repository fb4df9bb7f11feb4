/**
 * The public API as the published typings declare it (index.d.ts, emitted without @internal
 * members): the module's functions and values, and each exported class's public members. The
 * fuzz calls exactly these, so a function added to the API is fuzzed without a list to update.
 */
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

/** One public member: a method, something read (a getter, field or value), or a class to construct. */
export interface Member {
  name: string | symbol
  kind: 'method' | 'getter' | 'class'
  /** Whether it returns a Promise (then OS failures reject instead of throwing). */
  async: boolean
}

export interface Surface {
  /** What `import * as socket2` offers. */
  module: Member[]
  /** Each exported class's public instance members, most derived class first. */
  classes: Map<string, Member[]>
}

/** `__@iterator@12` is how the checker names `[Symbol.iterator]`. */
function keyOf(name: string): string | symbol {
  const m = /^__@(\w+)@\d+$/.exec(name)
  return m ? (Symbol as unknown as Record<string, symbol>)[m[1]!]! : name
}

function returnsPromise(sym: ts.Symbol): boolean {
  return (sym.declarations ?? []).some((d) => {
    const type = (d as ts.SignatureDeclaration).type
    return type !== undefined && ts.isTypeReferenceNode(type) && type.typeName.getText() === 'Promise'
  })
}

function member(sym: ts.Symbol): Member | undefined {
  const decl = sym.valueDeclaration
  if (decl === undefined || sym.name.startsWith('#')) return undefined
  if (ts.getCombinedModifierFlags(decl) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) return undefined
  const method = (sym.flags & (ts.SymbolFlags.Method | ts.SymbolFlags.Function)) !== 0
  return { name: keyOf(sym.name), kind: method ? 'method' : 'getter', async: method && returnsPromise(sym) }
}

/** Depth of a class in the exported hierarchy, to list subclasses before their bases. */
function depth(checker: ts.TypeChecker, t: ts.Type): number {
  const bases = t.isClassOrInterface() ? checker.getBaseTypes(t) : []
  return bases.length === 0 ? 0 : 1 + depth(checker, bases[0]!)
}

export function publicSurface(): Surface {
  const entry = fileURLToPath(new URL('../index.d.ts', import.meta.url))
  // No lib and no @types: only the names and declarations are read, and this keeps it fast.
  const program = ts.createProgram([entry], { lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'], types: [], skipLibCheck: true })
  const checker = program.getTypeChecker()
  const mod = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!
  const module: Member[] = []
  const classes: [number, string, Member[]][] = []
  for (const exported of checker.getExportsOfModule(mod)) {
    const sym = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
    if (sym.flags & ts.SymbolFlags.Class) {
      const type = checker.getDeclaredTypeOfSymbol(sym)
      const members = checker.getPropertiesOfType(type).map(member).filter((m) => m !== undefined)
      classes.push([depth(checker, type), exported.name, members])
      // Only a class that declares its constructor may be constructed (the others are made by
      // the library: tcp(), addr(), newthread()).
      if (sym.members?.has(ts.InternalSymbolName.Constructor)) module.push({ name: exported.name, kind: 'class', async: false })
    } else if (sym.flags & ts.SymbolFlags.Function) {
      module.push({ name: exported.name, kind: 'method', async: returnsPromise(sym) })
    } else if (sym.flags & ts.SymbolFlags.Value) {
      module.push({ name: exported.name, kind: 'getter', async: false })
    }
  }
  classes.sort((a, b) => b[0] - a[0])
  return { module, classes: new Map(classes.map(([, name, members]) => [name, members])) }
}
