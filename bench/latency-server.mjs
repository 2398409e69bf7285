// The webhook receiver of bench/latency.mjs, in a process of its own (as a real receiver is): records
// each request's arrival against the `sentAt` in its body, on the clock both processes share
// (performance.timeOrigin + performance.now(): within ~0.1 ms across processes here). Talks over IPC:
// { port } when listening; on 'take' it sends { latencies } and starts afresh.
import { createServer } from 'node:http'
import { performance } from 'node:perf_hooks'

const clock = () => performance.timeOrigin + performance.now()
let latencies = []
const server = createServer((req, res) => {
  let body = ''
  req.on('data', (c) => { body += c })
  req.on('end', () => {
    const at = clock()
    try {
      const j = JSON.parse(body)
      const sentAt = j.metadata?.sentAt ?? j.sentAt
      if (typeof sentAt === 'number') latencies.push(at - sentAt)
    } catch {}
    res.end('ok')
  })
})
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
process.on('message', (m) => {
  if (m === 'count') process.send({ count: latencies.length })
  if (m === 'take') { process.send({ latencies }); latencies = [] }
  if (m === 'stop') server.close(() => process.exit(0))
})
