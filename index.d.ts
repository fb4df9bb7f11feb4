// The published typings: emitted by `tsc` from index.ts into dist/ (see tsconfig.json) and
// re-exported here; __test__/typings.spec.ts checks the API as users write it.
export * from './dist/index'
