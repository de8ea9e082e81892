#!/usr/bin/env node
// The edge conformance suite: the host binary and the npm package's `handler()` are two adapters
// over one behaviour (DESIGN.md, "Edges: one contract"), so they must answer the same requests
// the same way and send their backend the same requests for the same session story. This runs
// both side by side against recording backends and prints every difference.
//
//   node tests/conformance/run.mjs            table of mismatches; exit 0 only if there are none
//   node tests/conformance/run.mjs --json     the mismatches as JSON
//
// SK_HOST_BIN overrides the host binary (default target/debug/sessionkeeper). promtool is used
// when on PATH; SK_REQUIRE_PROMTOOL=1 makes its absence a failure.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startBackend } from './backend.mjs';
import { send, sendJson } from './client.mjs';
import { compareResponses } from './compare.mjs';
import { AUTH } from './config.mjs';
import { compareDeliveries } from './deliveries.mjs';
import { havePromtool, promtoolCheck } from './exposition.mjs';
import { startHost } from './host.mjs';
import { CLOCK_FIELDS } from './normalise.mjs';
import { startNpm } from './npm.mjs';
import { REQUESTS } from './requests.mjs';
import { runStory, settle, STORY } from './story.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const hostBin = process.env.SK_HOST_BIN || path.join(root, 'target', 'debug', 'sessionkeeper');
const asJson = process.argv.includes('--json');

/** Every mismatch: `{section, case, what, host, npm}`. */
const mismatches = [];
const note = (section, name) => (row) => mismatches.push({ section, case: name, ...row });

function preflight() {
  const missing = [];
  if (!fs.existsSync(hostBin))
    missing.push(`host binary ${hostBin} (cargo build -p sessionkeeper-host, or set SK_HOST_BIN)`);
  if (!fs.existsSync(path.join(root, 'js-shim', 'wasm', 'sessionkeeper_wasm.js')))
    missing.push('js-shim/wasm (bash scripts/build-wasm.sh)');
  if (missing.length) {
    console.error(`conformance: missing ${missing.join('; ')}`);
    process.exit(2);
  }
}

async function runRequests(host, npm, unlisted) {
  for (const req of REQUESTS) {
    const hostFrom = host.backend.requests.length;
    const npmFrom = npm.backend.requests.length;
    const h = await send(host.base, req);
    const n = await send(npm.base, req);
    compareResponses(req, h, n, unlisted).forEach(note('api', req.name));
    // A cleanup removes sessions and tells the backend: that traffic must match too.
    const late = await settle(host, npm);
    if (late) note('api', req.name)({ what: 'settle', host: late, npm: late });
    compareDeliveries(host.backend.requests.slice(hostFrom), npm.backend.requests.slice(npmFrom), unlisted).forEach(
      note('backend', req.name),
    );
  }
}

async function checkPromtool(host, npm) {
  if (!havePromtool()) {
    if (process.env.SK_REQUIRE_PROMTOOL === '1') {
      note('promtool', 'promtool on PATH')({ what: 'promtool', host: 'not installed', npm: 'not installed' });
    } else if (!asJson) {
      console.warn('conformance: warning: promtool not on PATH, `promtool check metrics` skipped (Debian: prometheus)');
    }
    return;
  }
  const results = {};
  for (const [name, edge] of Object.entries({ host, npm })) {
    const res = await sendJson(edge.base, { method: 'GET', path: '/metrics', headers: { ...AUTH } });
    results[name] = promtoolCheck(res.text);
  }
  if (!results.host.ok || !results.npm.ok) {
    const lines = (r) => (r.ok ? 'ok' : r.output.split('\n').filter(Boolean));
    const h = lines(results.host);
    const n = lines(results.npm);
    const count = Math.max(Array.isArray(h) ? h.length : 1, Array.isArray(n) ? n.length : 1);
    for (let i = 0; i < count; i++) {
      const at = (x) => (Array.isArray(x) ? (x[i] ?? '') : i === 0 ? x : '');
      note('promtool', 'promtool check metrics')({ what: `problem ${i + 1}`, host: at(h), npm: at(n) });
    }
  }
}

function printTable(rows) {
  const cut = (v, w) => {
    const s = String(v).replace(/\s+/g, ' ');
    return s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w);
  };
  const widths = [8, 40, 40, 56, 56];
  const line = (cells) => cells.map((c, i) => cut(c, widths[i])).join(' | ');
  console.log(line(['section', 'case', 'what', 'host', 'npm']));
  console.log(widths.map((w) => '-'.repeat(w)).join('-+-'));
  for (const r of rows) console.log(line([r.section, r.case, r.what, r.host, r.npm]));
}

async function main() {
  preflight();
  const hostBackend = await startBackend();
  const npmBackend = await startBackend();
  let hostEdge;
  let npmEdge;
  try {
    hostEdge = await startHost(hostBin, hostBackend.url);
    npmEdge = await startNpm(npmBackend.url);
    const host = { base: hostEdge.base, backend: hostBackend };
    const npm = { base: npmEdge.base, keeper: npmEdge.keeper, backend: npmBackend };
    const unlisted = [];

    const storyRows = await runStory(host, npm, (step, { hostSent, npmSent }) => {
      compareDeliveries(hostSent, npmSent, unlisted).forEach(note('backend', step.name));
    });
    storyRows.forEach((r) => note('story', r.step)({ what: r.what, host: r.host, npm: r.npm }));
    await runRequests(host, npm, unlisted);
    await checkPromtool(host, npm);
    for (const p of new Set(unlisted)) {
      note(
        'clock',
        p,
      )({
        what: 'timestamp-like value not in CLOCK_FIELDS',
        host: 'add it to normalise.mjs if it is a clock field',
        npm: '',
      });
    }
    for (const w of npmEdge.warnings)
      note('npm', 'keeper warning')({ what: 'warning event', host: '', npm: String(w.error && w.error.message) });

    const summary = {
      requests: REQUESTS.length,
      storySteps: STORY.length,
      backendRequests: { host: hostBackend.requests.length, npm: npmBackend.requests.length },
      clockFields: CLOCK_FIELDS,
      mismatches: mismatches.length,
    };
    if (asJson) {
      console.log(JSON.stringify({ summary, mismatches }, null, 2));
    } else {
      const cases = new Set(mismatches.map((m) => `${m.section}:${m.case}`));
      console.log(
        `conformance: ${REQUESTS.length} requests and ${STORY.length} story steps on both edges, ` +
          `${summary.backendRequests.host} + ${summary.backendRequests.npm} backend requests compared`,
      );
      if (mismatches.length === 0) console.log('conformance: no differences');
      else {
        printTable(mismatches);
        console.log(`conformance: ${mismatches.length} differences in ${cases.size} cases`);
      }
    }
    process.exitCode = mismatches.length === 0 ? 0 : 1;
  } finally {
    if (npmEdge) await npmEdge.stop().catch(() => {});
    if (hostEdge) await hostEdge.stop().catch(() => {});
    await hostBackend.close();
    await npmBackend.close();
  }
}

main().catch((err) => {
  console.error(`conformance: ${err.stack || err}`);
  process.exitCode = 2;
});
