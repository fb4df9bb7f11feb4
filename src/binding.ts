/**
 * The native module, loaded through the generated loader (`binding.js` at the package root),
 * which picks the prebuilt binary for this platform or a locally built one. This file runs
 * from `dist/src/`, hence the path.
 */
import { join } from 'node:path'

type Native = typeof import('../binding')

// A copy: the loaded addon's exports object is in dictionary mode (properties added one by one),
// where every `native.recv` is a lookup the engine cannot inline; a spread makes a plain object
// with fast properties.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const native: Native = { ...require(join(__dirname, '..', '..', 'binding.js')) }

export default native

/** The native side's numbers (address families, kinds, flags, the event layout), read once. */
export const constants = native.constants()

/** Read-side readiness bit in dispatched events. */
export const READ = constants.readBit
/** Write-side readiness bit in dispatched events. */
export const WRITE = constants.writeBit
/** Socket ids carry their table index in these low bits. */
export const INDEX_MASK = constants.indexMask
