// A real OpenID Connect provider (the OpenID-certified `oidc-provider`) for the sign-in tests, on loopback.
//
//   node provider.mjs <port> <redirect_uri>...
//
// Client `kudos` (secret `kudos-secret`) may redirect to each redirect_uri given. Its login page is the library's
// development one: any login name with any password signs in as the account of that name. The tests control it
// through /__test/ (loopback only, JSON in, JSON out):
//   POST /__test/accounts  {"<login>": {"email": …, "email_verified": …, "name": …, "department": …}}  replaces them
//   POST /__test/switches  {"idTokenAge": seconds, "audience": "…"}  ID tokens are issued as if `idTokenAge`
//                          seconds ago (more than their hour's lifetime: already expired), and name `audience`
//                          instead of the client; {} turns both off
// It prints "ready <issuer>" once it listens.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, ...redirectUris] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
let accounts = {};
let switches = {};

const realNow = Date.now;
let clockOffset = 0; // seconds, while an ID token is issued with the idTokenAge switch on
Date.now = () => realNow() - clockOffset * 1000;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const provider = new Provider(issuer, {
  clients: [{
    client_id: 'kudos',
    client_secret: 'kudos-secret',
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' }] },
  cookies: { keys: ['kudos-test-provider-cookie-key'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'department', 'job_title'],
  },
  conformIdTokenClaims: false, // the ID token carries the scopes' claims (as most company providers do)
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
});

const issue = provider.IdToken.prototype.issue;
provider.IdToken.prototype.issue = async function issueForSwitches(options) {
  if (options?.use !== 'idtoken') return issue.call(this, options);
  const { client } = this;
  if (switches.audience) this.client = Object.create(client, { clientId: { value: switches.audience } });
  clockOffset = switches.idTokenAge ?? 0;
  try {
    return await issue.call(this, options);
  } finally {
    this.client = client;
    clockOffset = 0;
  }
};

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString() || '{}');
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/accounts' && ctx.method === 'POST') {
    accounts = await readJson(ctx.req);
    ctx.body = { accounts: Object.keys(accounts) };
  } else if (ctx.path === '/__test/switches' && ctx.method === 'POST') {
    switches = await readJson(ctx.req);
    ctx.body = switches;
  } else {
    await next();
  }
});

provider.listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`));
