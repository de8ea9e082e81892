'use strict';
// `GET /metrics` of `handler()`: the host's metric families that an embedded keeper can know,
// with the host's names, types, HELP texts and labels, so one dashboard and one set of alerts
// serve either edge. The keeper's families (sessions, queue, items, breaker) are the core's own
// rendering (`metricsText`, the text the host serves); breaker transitions and deliveries by
// outcome are counted here from the keeper's `breaker` and `delivery` events, as the host counts
// what its process sees (here: since the keeper's first `handler()`).
//
// Left out, because they describe the host process rather than the keeper: inputs accepted and
// refused through its API, journal entries, snapshots, commands published on /commands, and the
// delivery latency histogram (the keeper's events carry no durations).

const wasm = require('./wasm');

/** The host's exposition content type. */
const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Breaker states in the host's order; labels are their names in lower case. */
const BREAKER_STATES = ['CLOSED', 'OPEN', 'HALF_OPEN'];

/** Delivery outcome labels in the host's order, and each outcome's label: the core's. */
const OUTCOMES = wasm.outcomeLabels();

/** One set of event counters per keeper, however many handlers it makes. */
const COUNTERS = new WeakMap();

/** The keeper's event counters, subscribing on first use. */
function eventCounters(keeper) {
  let c = COUNTERS.get(keeper);
  if (c) return c;
  c = { outcomes: Object.fromEntries(OUTCOMES.map((o) => [o, 0])), transitions: {} };
  keeper.on('delivery', ({ outcome }) => {
    c.outcomes[wasm.outcomeLabel(outcome)] += 1;
  });
  keeper.on('breaker', ({ from, to }) => {
    const k = `${from}>${to}`;
    c.transitions[k] = (c.transitions[k] || 0) + 1;
  });
  COUNTERS.set(keeper, c);
  return c;
}

function header(lines, name, type, help) {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

/** The families counted from the keeper's events (the host counts them in its process). */
function renderEventFamilies(events) {
  const lines = [];
  const name = 'sessionkeeper_circuit_breaker_transitions_total';
  header(lines, name, 'counter', 'Breaker state changes seen by this process.');
  for (const from of BREAKER_STATES) {
    for (const to of BREAKER_STATES) {
      if (from === to) continue;
      const v = events.transitions[`${from}>${to}`] || 0;
      lines.push(`${name}{from="${from.toLowerCase()}",to="${to.toLowerCase()}"} ${v}`);
    }
  }
  header(lines, 'sessionkeeper_deliveries_total', 'counter', 'Backend deliveries by outcome.');
  for (const o of OUTCOMES) lines.push(`sessionkeeper_deliveries_total{outcome="${o}"} ${events.outcomes[o]}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The exposition text for a keeper, as a function called at each scrape (its event counters
 * start with this call).
 * @param {import('./keeper').SessionKeeper} keeper
 * @returns {() => string}
 */
function metricsRenderer(keeper) {
  const events = eventCounters(keeper);
  return () => keeper._wasm.metricsText(keeper._now()) + renderEventFamilies(events);
}

module.exports = { metricsRenderer, METRICS_CONTENT_TYPE };
