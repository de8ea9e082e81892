// The fake Laravel backend: records every request an edge sends (method, path, headers, body
// bytes) and answers 200, or what the test queued with `answerNext` (a 503 with Retry-After, a
// 500, a 422...), so both edges can be driven through the same outcome classes. Each edge gets its
// own instance, so what each one sent is known without guessing from headers.

import http from 'node:http';

/**
 * @returns {Promise<{url: string, requests: object[], answerNext: (a: object) => void, close: () => Promise<void>}>}
 */
export async function startBackend() {
  const requests = [];
  const queued = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const answer = queued.shift() || { status: 200 };
      requests.push({
        method: req.method,
        path: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks),
        answered: answer.status,
      });
      res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.headers || {}) });
      res.end(JSON.stringify({ ok: answer.status < 300 }));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/api`,
    requests,
    /** The next request gets this answer instead of 200 (`{status, headers?}`). */
    answerNext: (answer) => queued.push(answer),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
