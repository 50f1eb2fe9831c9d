// A TPP built on panva's openid-client (a certified FAPI 2.0 client library), driven line by line
// by tests/openid_client.rs over stdin/stdout, each line one JSON object:
//   -> {"jwks": ...}                    its public keys (private_key_jwt), before it is registered
//   <- "registered"
//   -> {"authorization_url": ...}       after PAR, for the customer's browser
//   <- the URL the browser was redirected to
//   -> {"result": ...}                  what it got from the token endpoint, userinfo and refresh
// Environment: ISSUER, CA_FILE, CLIENT_ID, MODE (pkjwt-dpop | mtls-mtls), and for mtls-mtls
// CERT_FILE and KEY_FILE.
import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import * as readline from 'node:readline';
import * as client from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';

globalThis.crypto ??= webcrypto;

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const mode = env('MODE');
const clientId = env('CLIENT_ID');
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const send = (object) => process.stdout.write(`${JSON.stringify(object)}\n`);
const receive = async () => (await lines.next()).value;

// TLS: the dev CA as the only root; for mTLS, the client certificate on every connection.
// `localhost` is pinned to 127.0.0.1, where the server listens.
const tls = { ca: readFileSync(env('CA_FILE')) };
if (mode === 'mtls-mtls') {
  tls.cert = readFileSync(env('CERT_FILE'));
  tls.key = readFileSync(env('KEY_FILE'));
}
const lookup = (hostname, options, callback) =>
  options.all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4);
const agent = new Agent({ connect: { ...tls, lookup } });
const tlsFetch = (url, options) => undiciFetch(url, { ...options, dispatcher: agent });

let auth;
const metadata = { id_token_signed_response_alg: 'ES256' };
if (mode === 'pkjwt-dpop') {
  const { privateKey, publicKey } = await crypto.subtle.generateKey(
    { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const jwk = await crypto.subtle.exportKey('jwk', publicKey);
  const kid = 'oc-1';
  send({ jwks: { keys: [{ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid, use: 'sig', alg: 'ES256' }] } });
  auth = client.PrivateKeyJwt({ key: privateKey, kid });
} else {
  send({ jwks: null });
  auth = client.TlsClientAuth();
  metadata.use_mtls_endpoint_aliases = true;
}
if ((await receive()) !== 'registered') throw new Error('expected "registered"');

const config = await client.discovery(new URL(env('ISSUER')), clientId, metadata, auth, {
  [client.customFetch]: tlsFetch,
});

let dpopKey;
let DPoP;
if (mode === 'pkjwt-dpop') {
  const keyPair = await client.randomDPoPKeyPair('ES256');
  DPoP = client.getDPoPHandle(config, keyPair);
  dpopKey = await crypto.subtle.exportKey('jwk', keyPair.publicKey);
}

const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const url = await client.buildAuthorizationUrlWithPAR(config, {
  redirect_uri: 'https://tpp.example/cb',
  scope: 'openid accounts',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
}, { DPoP });
send({ authorization_url: url.href });

const callback = new URL(await receive());
const tokens = await client.authorizationCodeGrant(config, callback, {
  pkceCodeVerifier: verifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
}, undefined, { DPoP });
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP });
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
send({
  result: {
    token_type: tokens.token_type,
    access_token: tokens.access_token,
    id_token_sub: claims.sub,
    userinfo_sub: userinfo.sub,
    refreshed_token_type: refreshed.token_type,
    refreshed_access_token: refreshed.access_token,
    dpop_jwk: dpopKey ? { kty: dpopKey.kty, crv: dpopKey.crv, x: dpopKey.x, y: dpopKey.y } : null,
  },
});
process.exit(0);
