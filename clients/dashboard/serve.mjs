// Serve the dashboard: its static files, with the page's script bundled (esbuild) from src/ and
// the client package, polkadot.js included. The page talks to the node's RPC from the browser.
//
//   node clients/dashboard/serve.mjs [--port 8088] [--host 127.0.0.1] [--ws ws://127.0.0.1:9944]
//   node clients/dashboard/serve.mjs --out DIR     (write the static files to DIR and exit: host
//                                                  them anywhere; `?ws=` picks the node)
//
// `--ws` is the node the page connects to unless its address says `?ws=`. The node must accept
// the page's origin: `--dev` accepts any, other chains take `--rpc-cors` (localhost by default).
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

/** The page's script: src/main.js and everything it imports, as one ES module for browsers. */
export async function bundle() {
  const result = await build({
    entryPoints: [join(here, 'src/main.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    write: false,
    logLevel: 'silent',
    // polkadot.js reads `process.env` in a few places; in a browser there is none.
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  return result.outputFiles[0].contents;
}

/** Every file the dashboard is: path → [content type, bytes]. */
export async function files(ws) {
  return new Map([
    ['/index.html', ['text/html; charset=utf-8', readFileSync(join(here, 'index.html'))]],
    ['/style.css', ['text/css; charset=utf-8', readFileSync(join(here, 'style.css'))]],
    ['/app.js', ['text/javascript; charset=utf-8', await bundle()]],
    ['/config.json', ['application/json', Buffer.from(JSON.stringify({ ws }))]],
  ]);
}

/**
 * Serve the dashboard on `host:port` (0: any free port); resolves with its URL and `close`.
 * @param {{ host?: string, port?: number, ws?: string }} options
 */
export async function serve({ host = '127.0.0.1', port = 8088, ws = 'ws://127.0.0.1:9944' } = {}) {
  const served = await files(ws);
  const server = createServer((request, response) => {
    const path = new URL(request.url, 'http://dashboard').pathname;
    const file = served.get(path === '/' ? '/index.html' : path);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (!file) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end(`no ${path} here\n`);
    } else {
      response.writeHead(200, {
        'content-type': file[0],
        'content-length': file[1].length,
        'cache-control': 'no-cache',
        // The page connects to the node and workers it names, nowhere else runs scripts.
        'content-security-policy': "default-src 'self'; connect-src *; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:",
      });
      response.end(request.method === 'HEAD' ? undefined : file[1]);
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const { port: bound } = server.address();
  return { url: `http://${host}:${bound}/`, close: () => new Promise((resolve) => server.close(resolve)) };
}

async function main() {
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? args[at + 1] : fallback;
  };
  const ws = option('ws', 'ws://127.0.0.1:9944');
  const out = option('out');
  if (out) {
    mkdirSync(out, { recursive: true });
    for (const [path, [, bytes]] of await files(ws)) writeFileSync(join(out, path), bytes);
    console.log(`dashboard written to ${out} (node ${ws})`);
    return;
  }
  const { url } = await serve({ host: option('host', '127.0.0.1'), port: Number(option('port', 8088)), ws });
  console.log(`dashboard on ${url} (node ${ws})`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    console.error(e.message ?? e);
    process.exit(1);
  });
}
