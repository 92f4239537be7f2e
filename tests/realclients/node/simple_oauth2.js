// A Node app on simple-oauth2 5.1.0 (not Intuit's SDK) talking to Intuit's endpoints.
// Usage: node simple_oauth2.js <part> '<json args>'  -> prints {"part", "log", "result"} as JSON.
// simple-oauth2 sends requests with @hapi/wreck, which ignores HTTPS_PROXY: the app passes an
// https-proxy-agent for it, as its users behind a proxy do. NODE_EXTRA_CA_CERTS trusts mitmproxy.
'use strict';

const axios = require('axios'); // only for the emulator's control calls and the consent GET
const { HttpsProxyAgent } = require('https-proxy-agent');
const { AuthorizationCode } = require('simple-oauth2');

const APPS = JSON.parse(process.env.QBT_APPS || '{}'); // client_id -> {secret, redirect_uris, environment}
const [DEV, PROD] = Object.keys(APPS);
const CALLBACK = 'https://app.example.test/callback';
const agent = new HttpsProxyAgent(process.env.HTTPS_PROXY);
const log = [];

function oauthClient(id) {
  return new AuthorizationCode({
    client: { id, secret: APPS[id].secret },
    auth: {
      tokenHost: 'https://oauth.platform.intuit.com',
      tokenPath: '/oauth2/v1/tokens/bearer',
      revokePath: 'https://developer.api.intuit.com/v2/oauth2/tokens/revoke',
      authorizeHost: 'https://appcenter.intuit.com',
      authorizePath: '/connect/oauth2',
    },
  });
}

async function control(path, body = {}) {
  const r = await axios.post(`http://emulator.control${path}`, body);
  return r.data;
}
const advance = (seconds) => control('/clock/advance', { seconds });

// The user's consent without a browser: GET the authorize URL, keep the 302 Location.
async function consent(url) {
  const r = await axios.get(url, { maxRedirects: 0, validateStatus: () => true });
  return r.headers.location;
}

async function call(op, fn) {
  try {
    const value = await fn();
    log.push({ op, status: 200 });
    return value;
  } catch (e) {
    const status = e.output ? e.output.statusCode : 0; // a Boom error from wreck
    const body = e.data && e.data.payload ? e.data.payload.toString() : String(e.message);
    log.push({ op, status, body });
    return null;
  }
}

const parts = {
  // The app's callback handler: exchange the code of a callback URL with a configured redirect_uri.
  async exchange_callback(args) {
    const oc = oauthClient(args.app || DEV);
    const code = new URL(args.callback).searchParams.get('code');
    const params = { code, redirect_uri: args.redirect_uri || CALLBACK };
    const token = await call('exchange', () => oc.getToken(params, { agent }));
    return { ok: token !== null };
  },

  async healthy_simple_oauth2() {
    const oc = oauthClient(PROD);
    const url = oc.authorizeURL({ redirect_uri: CALLBACK, scope: 'com.intuit.quickbooks.accounting', state: `st${Date.now()}` });
    const code = new URL(await consent(url)).searchParams.get('code');
    let token = await call('exchange', () => oc.getToken({ code, redirect_uri: CALLBACK }, { agent }));
    const first = token.token.refresh_token;
    for (const hours of [1, 24]) { // the second refresh is 25 h after the grant: rotation
      await advance(hours * 3600);
      token = await call('refresh', () => token.refresh({}, { agent }));
    }
    if (token.token.refresh_token === first) throw new Error('no rotation after 25 h');
    await advance(3600);
    const restored = oc.createToken(JSON.parse(JSON.stringify(token.token))); // from the app's store
    await call('refresh', () => restored.refresh({}, { agent }));
  },
};

require('./main')(parts, log);
