import { createServer } from 'node:http';

/**
 * The upstream of every drain benchmark: answers at once with a small JSON
 * body, and can record arrival times (limiter accuracy).
 */
export async function startStub({ record = false } = {}) {
  const arrivals = [];
  const body = JSON.stringify({ id: 'x', ok: true });
  const server = createServer((req, res) => {
    if (record) arrivals.push(Date.now());
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    arrivals,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
