// What a block's events say to a person watching the network: settlements (and requests that
// ended otherwise) in one feed, disputes and slashes in the other. Pure functions of the decoded
// events, with no DOM, so the dashboard's wording is checked in Node.

/**
 * `value` plancks in whole tokens, every significant digit kept: `1000000` with 12 decimals is
 * `0.000001 TOMA` (polkadot.js' `formatBalance` rounds prices like that one to zero).
 * @param {{ toString(): string } | bigint | number} value
 * @param {number} decimals
 * @param {string} unit
 */
export function amount(value, decimals, unit) {
  const plancks = BigInt(value.toString());
  const base = 10n ** BigInt(decimals);
  const sign = plancks < 0n ? '-' : '';
  const magnitude = plancks < 0n ? -plancks : plancks;
  const fraction = (magnitude % base).toString().padStart(decimals, '0').replace(/0+$/, '');
  return `${sign}${(magnitude / base).toLocaleString('en-US')}${fraction ? `.${fraction}` : ''} ${unit}`;
}

/** Events that end a request, for the settlements feed. */
const SETTLEMENTS = {
  'inference.RequestSettled': 'good',
  'inference.DisputeConcluded': 'good',
  'inference.RequestFailed': 'bad',
  'inference.RequestUnservable': 'bad',
};

/** Events of disputes and punishments, for the other feed (every `disputes` event belongs there). */
const SLASHES = new Set([
  'inference.RequestDisputed',
  'inference.NodeTimedOut',
  'nodeRegistry.CollateralSlashed',
]);
const BAD = new Set([
  'inference.NodeTimedOut', 'nodeRegistry.CollateralSlashed', 'disputes.CheaterSlashed',
  'disputes.ArbiterTimedOut', 'disputes.PartiesConvicted',
]);

/** A field's value as a person reads it: ids as numbers, hashes shortened, balances formatted. */
function show(value, formatBalance) {
  if (value === null || value === undefined) return '—';
  const type = value.toRawType?.() ?? '';
  if (type === 'u128' || type === 'Balance') return formatBalance(value);
  if (value.isNone) return '—';
  if (value.isSome) return show(value.unwrap(), formatBalance);
  if (Array.isArray(value)) return `[${value.map((v) => show(v, formatBalance)).join(', ')}]`;
  const json = value.toJSON?.() ?? value;
  if (typeof json === 'string' && /^0x[0-9a-f]{16,}$/i.test(json)) return `${json.slice(0, 10)}…`;
  if (typeof json === 'object') return JSON.stringify(json);
  return String(json);
}

/**
 * A feed entry of `event` in block `block`, or `null` when neither feed shows it.
 * @param {import('@polkadot/types/interfaces').Event} event
 * @param {number} block
 * @param {(value: any) => string} formatBalance
 * @returns {{ feed: 'settlements' | 'slashes', block: number, what: string, tone: string,
 *   request: number | null, text: string } | null}
 */
export function feedEntry(event, block, formatBalance) {
  const what = `${event.section}.${event.method}`;
  let feed = null;
  if (SETTLEMENTS[what]) feed = 'settlements';
  else if (event.section === 'disputes' || SLASHES.has(what)) feed = 'slashes';
  if (!feed) return null;
  const names = event.meta.fields.map((field) => field.name.unwrap().toString());
  const fields = names.map((name, i) => [name, event.data[i]]);
  const request = fields.find(([name]) => name === 'request')?.[1]?.toNumber?.() ?? null;
  const text = fields
    .filter(([name]) => name !== 'request')
    .map(([name, value]) => `${name} ${show(value, formatBalance)}`)
    .join(' · ');
  const tone = SETTLEMENTS[what] ?? (BAD.has(what) ? 'bad' : '');
  return { feed, block, what, tone, request, text };
}
