// The Node SDK (npm intuit-oauth 4.2.5, axios) side of the scenarios.
// Usage: node driver.js <part> '<json args>'  -> prints {"part", "log"} as JSON.
// Needs HTTPS_PROXY/HTTP_PROXY and NODE_EXTRA_CA_CERTS pointing at mitmproxy.
// The SDK's own retries (408/429/5xx/ECONNRESET, 1 s, 2 s, 4 s) are left as shipped.
'use strict';

const axios = require('axios');
const OAuthClient = require('intuit-oauth');

const APPS = JSON.parse(process.env.QBT_APPS || '{}'); // client_id -> {secret, redirect_uris, environment}
const IDS = Object.keys(APPS);
const [DEV, PROD, , TENANT_A, TENANT_B, TENANT_C] = IDS;
const log = [];
// With QBT_APP_LOG (a folder) the app logs as production apps do: the SDK's own winston file
// (`logging: true`, written to logs/oAuthClient-log.log) and the app's pino log (pino.log).
const APP_LOG = process.env.QBT_APP_LOG;
const appLog = APP_LOG
  ? require('pino')(require('pino').destination({ dest: `${APP_LOG}/pino.log`, sync: true }))
  : null;

async function control(path, body = {}) {
  const r = await axios.post(`http://emulator.control${path}`, body);
  return r.data;
}
const advance = (seconds) => control('/clock/advance', { seconds });

function client(id, overrides = {}) {
  const app = APPS[id];
  return new OAuthClient({
    clientId: id,
    clientSecret: app.secret,
    environment: app.environment,
    redirectUri: app.redirect_uris[0],
    logging: Boolean(APP_LOG),
    ...overrides,
  });
}

// The user's consent without a browser: GET the authorize URL, keep the 302 Location.
async function authorize(oc) {
  const url = oc.authorizeUri({ scope: [OAuthClient.scopes.Accounting], state: 'st' + Date.now() });
  const r = await axios.get(url, { maxRedirects: 0, validateStatus: () => true });
  return r.headers.location;
}

async function call(op, fn) {
  try {
    await fn();
    if (appLog) appLog.info({ op }, `${op} done`);
    log.push({ op, status: 200 });
    return true;
  } catch (e) {
    if (appLog) appLog.error({ err: e, op }, `${op} failed`);
    const status = e.authResponse && e.authResponse.response ? e.authResponse.response.status : 0;
    log.push({ op, status, error: e.error || e.message });
    return false;
  }
}
const exchange = (oc, callbackUrl) => call('exchange', () => oc.createToken(callbackUrl));
const refresh = (oc) => call('refresh', () => oc.refresh());
const refreshWith = (oc, token) => call('refresh', () => oc.refreshUsingToken(token));

async function connect(id, overrides) {
  const oc = client(id, overrides);
  await exchange(oc, await authorize(oc));
  return oc;
}

const parts = {
  async healthy_node() {
    const oc = await connect(PROD, { includeRefreshTokenHardExpiresIn: true });
    const first = oc.getToken().refresh_token;
    for (const hours of [2, 6]) {
      await advance(hours * 3600);
      await refresh(oc);
    }
    if (oc.getToken().refresh_token !== first) throw new Error('rotated within a day');
    await advance(17 * 3600 + 60); // 25 h after the grant: rotation
    await refresh(oc);
    if (oc.getToken().refresh_token === first) throw new Error('no rotation after 25 h');
    await call('revoke', () => oc.revoke());
  },

  async refresh_response_lost() {
    const oc = await connect(PROD);
    await advance(25 * 3600);
    // Intuit rotates, then the connection drops before the answer arrives; the SDK retries
    // with the token it still holds.
    await control('/drop', { count: 1 });
    await refresh(oc);
  },

  async refresh_token_hard_expired() {
    // A grant from (almost) five years ago, still refreshed every few weeks.
    const { refresh_token: seeded } = await control('/seed', {
      client_id: PROD, grant_age: 5 * 365 * 86400 - 2 * 3600, rt_age: 30 * 86400,
    });
    const oc = client(PROD, { includeRefreshTokenHardExpiresIn: true });
    await refreshWith(oc, seeded);
    await advance(3 * 3600);
    await refresh(oc);
  },

  async client_credentials_malformed() {
    const good = client(DEV);
    const callback = await authorize(good);
    // clientSecret read from an unset environment variable, then from an empty one.
    await exchange(client(DEV, { clientSecret: process.env.QBT_UNSET_SECRET }), callback);
    await exchange(client(DEV, { clientSecret: '' }), callback);
    await exchange(good, callback);
  },

  async outage_connect() {
    // Three unrelated apps connect; prints their refresh tokens.
    const out = {};
    for (const id of [TENANT_A, TENANT_B, TENANT_C]) {
      const oc = await connect(id);
      out[id] = oc.getToken().refresh_token;
    }
    return out;
  },

  async outage_refresh(args) {
    // One refresh per app, concurrently (three unrelated background jobs).
    await Promise.all(Object.entries(args.tokens).map(([id, token]) => refreshWith(client(id), token)));
  },
};

require('./main')(parts, log);
