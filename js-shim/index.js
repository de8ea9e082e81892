'use strict';
// sessionkeeper: session and delivery control for Baileys gateways (Rust core, WebAssembly).

const { SessionKeeper, createKeeper } = require('./lib/keeper');
const { KeeperError } = require('./lib/errors');
const { normalizeUpdate } = require('./lib/baileys');
const { qrDataUrl, qrPng, qrSvg } = require('./lib/qr');
const { CORE_KEYS } = require('./lib/options');
const { sign } = require('./lib/delivery');

module.exports = {
  createKeeper,
  SessionKeeper,
  KeeperError,
  normalizeUpdate,
  qrDataUrl,
  qrPng,
  qrSvg,
  sign,
  CONFIG_KEYS: CORE_KEYS,
};
