// Preloaded (NODE_OPTIONS=--import) by test.mjs's qemu run: without binfmt_misc an arm64
// process.execPath cannot be exec'd, so fork() and the tests' spawns use a script that starts
// the same node under qemu instead.
if (process.env.SOCKET2_EXEC_PATH) process.execPath = process.env.SOCKET2_EXEC_PATH
