import test from 'ava'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { tcp } from 'socket2'
import { within } from './util.ts'

const fixture = fileURLToPath(new URL('./fixtures/worker-echo.mjs', import.meta.url))

/** A worker with its first message and its exit code, both listened for from the start: a
 * worker can exit before the caller gets round to asking. */
function run(n: number, park: boolean): [Worker, Promise<string>, Promise<number>] {
  const w = new Worker(fixture, { workerData: { n, park } })
  const message = new Promise<string>((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  })
  const exit = new Promise<number>((resolve) => w.once('exit', resolve))
  return [w, message, exit]
}

test('workers each get their own poller: echoes run in several at once, and they exit by themselves', async (t) => {
  const workers = [1, 2, 3].map((n) => run(n, false))
  const got = await within(Promise.all(workers.map(([, m]) => m)), 10_000)
  t.deepEqual(got, ['hello from worker 1', 'hello from worker 2', 'hello from worker 3'])
  const codes = await within(Promise.all(workers.map(([, , exit]) => exit)), 10_000)
  t.deepEqual(codes, [0, 0, 0])
})

test('terminating a worker with a thread parked in accept tears its poller down cleanly', async (t) => {
  const [w, message] = run(4, true)
  t.is(await within(message, 10_000), 'hello from worker 4')
  t.is(await within(w.terminate(), 10_000), 1)
  // The main thread's own poller is untouched.
  const s = tcp()
  await s.listen('127.0.0.1', 0)
  t.true(s.localAddr().port > 0)
  s.close()
})
