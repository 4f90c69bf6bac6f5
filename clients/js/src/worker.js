// A request's output as its owner reads it from a selected node's worker: the signed read
// (`atoma_primitives::output_read`), the server-sent event stream, and the upload of an input given
// by hash (`PUT /v1/inputs/{hash}`, which the worker checks against the hash).
import { blake2AsU8a } from '@polkadot/util-crypto';
import { stringToU8a, u8aToHex, u8aWrapBytes } from '@polkadot/util';

/**
 * The message a request's owner signs to read its output (`atoma_primitives::output_read`).
 * @type {(genesisHash: string, request: number, timestamp: number) => string}
 */
export const outputReadMessage = (genesisHash, request, timestamp) =>
  `atoma/output-read/v1 chain=${genesisHash} request=${request} timestamp=${timestamp}`;

/**
 * The headers of a read of `request`'s output, signed now by `pair` (a keyring pair; a browser
 * extension's `signRaw({ type: 'bytes', data })` signs the same wrapped bytes).
 * @param {import('@polkadot/keyring/types').KeyringPair} pair
 * @param {string} genesisHash
 * @param {number} request
 * @param {number} [now] ms since the epoch
 * @returns {Record<string, string>}
 */
export function outputReadHeaders(pair, genesisHash, request, now = Date.now()) {
  const timestamp = Math.floor(now / 1000);
  const message = stringToU8a(outputReadMessage(genesisHash, request, timestamp));
  return {
    'x-atoma-account': u8aToHex(pair.publicKey),
    'x-atoma-timestamp': String(timestamp),
    'x-atoma-signature': u8aToHex(pair.sign(u8aWrapBytes(message))),
  };
}

/**
 * Read the server-sent events of `response` (a fetch Response), calling `onEvent(name, data)` for
 * each; resolves when the stream ends.
 * @param {Response} response
 * @param {(name: string, data: string) => void} onEvent
 */
export async function readEvents(response, onEvent) {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) onEvent(name, data.join('\n'));
    }
  }
}

/**
 * Stream the output of `request` from the worker at `url` as its owner `pair`: `onToken(token)`
 * for each token as it is generated; resolves with the whole delivered output. A 404 (the node has
 * not handed the job to its worker yet) is asked again every `retryMs` until `deadline` (ms since
 * the epoch); `signal` aborts.
 * @param {{ url: string, request: number, pair: import('@polkadot/keyring/types').KeyringPair,
 *   genesisHash: string, onToken?: (token: { text: string, token_id: number }) => void,
 *   signal?: AbortSignal, deadline: number, retryMs?: number }} options
 * @returns {Promise<DeliveredOutput>}
 */
export async function streamOutput({ url, request, pair, genesisHash, onToken, signal, deadline, retryMs = 100 }) {
  for (;;) {
    const response = await fetch(`${url.replace(/\/$/, '')}/v1/requests/${request}/output`, {
      headers: { ...outputReadHeaders(pair, genesisHash, request), accept: 'text/event-stream' },
      signal,
    });
    if (response.status === 404 && Date.now() < deadline) {
      await response.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, retryMs));
      continue;
    }
    if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
    let output = null;
    let failure = null;
    await readEvents(response, (name, data) => {
      const value = JSON.parse(data);
      if (name === 'token') onToken?.(value);
      else if (name === 'output') output = value;
      else if (name === 'error') failure = value.error?.message ?? data;
    });
    if (output) return output;
    throw new Error(`${url}: ${failure ?? 'the stream ended without an output'}`);
  }
}

/**
 * The hash a request names an input by: blake2-256 of its bytes (`RequestInput::Hash`).
 * @param {Uint8Array | string} input the bytes, or a string as UTF-8
 * @returns {Uint8Array}
 */
export const inputHash = (input) => blake2AsU8a(typeof input === 'string' ? stringToU8a(input) : input, 256);

/**
 * Upload a by-hash input to the worker at `url` (a selected node's public URL from the node
 * registry). The worker stores it under its hash and refuses bytes of another hash.
 * @param {string} url
 * @param {Uint8Array | string} input
 * @param {{ signal?: AbortSignal }} [options]
 */
export async function uploadInput(url, input, { signal } = {}) {
  const bytes = typeof input === 'string' ? stringToU8a(input) : input;
  const hash = u8aToHex(inputHash(bytes), -1, false);
  const response = await fetch(`${url.replace(/\/$/, '')}/v1/inputs/${hash}`, { method: 'PUT', body: bytes, signal });
  if (!response.ok) throw new Error(`${url}: input upload ${response.status} ${await response.text()}`);
}

/**
 * @typedef {object} DeliveredOutput What a worker delivers (`event: output`).
 * @property {number[]} token_ids
 * @property {'stop' | 'length'} finish_reason
 * @property {string} canonical_output `O`, hex without `0x`
 * @property {string} text
 */
