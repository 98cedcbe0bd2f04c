// A real OpenID Connect provider for the Rathaus login tests (node-oidc-provider with its
// development login pages). Usage: node provider.mjs PORT REDIRECT_URI...
// Any login name signs in; the account's claims are made up from it (the login name is
// also the preferred_username, as a town's directory would give it).
import Provider from 'oidc-provider';

const [port, ...redirectUris] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'rathaus',
    client_secret: 'rathaus-test-secret',
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.org`, email_verified: true, given_name: 'Erika', family_name: 'Muster', preferred_username: id };
      },
    };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name', 'preferred_username'] },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['rathaus-test-cookie-key'] },
});

// Errors of the provider go to stderr, where the test shows them.
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`));
