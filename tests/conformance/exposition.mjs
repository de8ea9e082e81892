// `/metrics` of both edges: every family the npm side serves must be the host's (same name, TYPE,
// HELP, label sets and, after the same story, the same values), the host's families the npm side
// lacks must be ones that describe the host process (listed below, with why), and both texts
// must pass `promtool check metrics` when promtool is installed.

import { spawnSync } from 'node:child_process';

/**
 * Host families an embedded keeper cannot serve: they count the host process's own work (its
 * API inputs, journal, snapshots, /commands) or time requests it does not time.
 */
export const HOST_PROCESS_FAMILIES = Object.freeze([
  'sessionkeeper_inputs_accepted_total', // inputs taken through the host's HTTP API
  'sessionkeeper_inputs_refused_total', // inputs its API refused
  'sessionkeeper_journal_entries_total', // the host's journal
  'sessionkeeper_snapshots_total', // the host's state snapshots
  'sessionkeeper_commands_published_total', // the host's /commands stream
  'sessionkeeper_delivery_duration_seconds', // latency; the keeper's events carry no durations
  'sessionkeeper_connections_open', // the host's HTTP server (the gateway's own server is not ours)
  'sessionkeeper_connections_evicted_total',
  'sessionkeeper_connections_refused_total',
  'sessionkeeper_backend_answers_truncated_total', // the npm side caps answers too, and does not count them
]);

/** Parses the text exposition into `{families: Map(name -> {type, help, samples: Map})}`. */
export function parseExposition(text) {
  const families = new Map();
  const family = (name) => {
    if (!families.has(name)) families.set(name, { type: undefined, help: undefined, samples: new Map() });
    return families.get(name);
  };
  let current;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      current = meta[2];
      family(current)[meta[1] === 'HELP' ? 'help' : 'type'] = meta[3];
      continue;
    }
    if (line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!sample) {
      family('(unparsable)').samples.set(line, NaN);
      continue;
    }
    const base = families.has(sample[1]) ? sample[1] : current;
    family(base).samples.set(`${sample[1]}${sample[2] || ''}`, Number(sample[3]));
  }
  return families;
}

/** Mismatch rows `{what, host, npm}` between the host's and the npm side's exposition. */
export function compareExpositions(hostText, npmText) {
  const rows = [];
  const host = parseExposition(hostText);
  const npm = parseExposition(npmText);
  for (const [name, n] of npm) {
    const h = host.get(name);
    if (!h) {
      rows.push({ what: `family ${name}`, host: '(absent)', npm: `${n.type}: ${n.help}` });
      continue;
    }
    if (h.type !== n.type) rows.push({ what: `${name} TYPE`, host: h.type, npm: n.type });
    if (h.help !== n.help) rows.push({ what: `${name} HELP`, host: h.help, npm: n.help });
    for (const key of new Set([...h.samples.keys(), ...n.samples.keys()])) {
      const hv = h.samples.has(key) ? h.samples.get(key) : '(absent)';
      const nv = n.samples.has(key) ? n.samples.get(key) : '(absent)';
      if (!Object.is(hv, nv)) rows.push({ what: `sample ${key}`, host: hv, npm: nv });
    }
  }
  for (const name of host.keys()) {
    if (!npm.has(name) && !HOST_PROCESS_FAMILIES.includes(name)) {
      rows.push({ what: `family ${name}`, host: `${host.get(name).type}: ${host.get(name).help}`, npm: '(absent)' });
    }
  }
  return rows;
}

/** Whether promtool is on PATH. */
export function havePromtool() {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

/** `promtool check metrics` of one text: `{ok, output}` (its problems, one per line). */
export function promtoolCheck(text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  const output = `${r.stdout || ''}${r.stderr || ''}`.trim();
  return { ok: r.status === 0, output };
}
