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

/** Breaker states in the order the core counts transitions (`[from][to]`). */
const BREAKER_STATES = ['CLOSED', 'OPEN', 'HALF_OPEN'];

/** Delivery outcome labels in the core's order; each outcome's label is the core's too. */
const OUTCOMES = wasm.outcomeLabels();

/** One set of event counters per keeper, however many handlers it makes. */
const COUNTERS = new WeakMap();

/** The keeper's event counters, subscribing on first use. */
function eventCounters(keeper) {
  let c = COUNTERS.get(keeper);
  if (c) return c;
  c = { outcomes: OUTCOMES.map(() => 0), transitions: new Array(9).fill(0) };
  // The keeper's own taps: counting is not listening (it releases no events held for start()).
  keeper._taps.on('delivery', ({ outcome }) => {
    c.outcomes[OUTCOMES.indexOf(wasm.outcomeLabel(outcome))] += 1;
  });
  keeper._taps.on('breaker', ({ from, to }) => {
    const i = BREAKER_STATES.indexOf(from);
    const j = BREAKER_STATES.indexOf(to);
    if (i >= 0 && j >= 0) c.transitions[i * 3 + j] += 1;
  });
  COUNTERS.set(keeper, c);
  return c;
}

/**
 * The exposition text for a keeper, as a function called at each scrape (its event counters
 * start with this call).
 * @param {import('./keeper').SessionKeeper} keeper
 * @returns {() => string}
 */
function metricsRenderer(keeper) {
  const events = eventCounters(keeper);
  // Both parts are rendered by the core, as the host renders them.
  return () =>
    keeper._metricsText() + wasm.processMetricsText(events.transitions, events.outcomes);
}

module.exports = { metricsRenderer, METRICS_CONTENT_TYPE };
