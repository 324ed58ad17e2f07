// Accounts, extensions, apps (OAuth clients) and JWT credentials, seeded through the admin API.
// An extension is a user ("User"), a call queue ("Department", the type RingCentral gives call
// queues in GetExtensionInfoResponse) or an IVR menu ("IvrMenu").

import { b64j, digits, token } from './util.mjs';

export const ALL_SCOPES = ['ReadAccounts', 'ReadCallLog', 'CallControl', 'SubscriptionWebhook', 'ReadPresence'];

export class Directory {
  constructor() { this.reset(); }

  reset() {
    this.accounts = new Map(); // id -> account
    this.extensions = new Map(); // id -> extension
    this.apps = new Map(); // clientId -> app
    this.jwts = new Map(); // assertion -> credential
  }

  addAccount({ id, mainNumber, name } = {}) {
    const acc = {
      id: String(id ?? digits(9) + '008'),
      mainNumber: mainNumber ?? '+1650555' + String(1000 + this.accounts.size).slice(-4),
      name: name ?? 'Emulated Account',
    };
    if (this.accounts.has(acc.id)) throw Object.assign(new Error(`account ${acc.id} exists`), { status: 409 });
    this.accounts.set(acc.id, acc);
    return acc;
  }

  account(id) { return this.accounts.get(String(id)); }
  firstAccount() { return this.accounts.values().next().value; }

  addExtension(spec) {
    const acc = spec.accountId ? this.account(spec.accountId) : this.firstAccount();
    if (!acc) throw Object.assign(new Error('no such account (seed one first)'), { status: 400 });
    const id = String(spec.id ?? digits(9) + '008');
    if (this.extensions.has(id)) throw Object.assign(new Error(`extension ${id} exists`), { status: 409 });
    const number = String(spec.extensionNumber ?? 100 + [...this.extensions.values()].filter((e) => e.accountId === acc.id).length + 1);
    const type = spec.type ?? 'User';
    if (!['User', 'Department', 'IvrMenu'].includes(type)) throw Object.assign(new Error('type is User, Department (call queue) or IvrMenu'), { status: 400 });
    const name = spec.name ?? ([spec.firstName, spec.lastName].filter(Boolean).join(' ') || `Extension ${number}`);
    const [firstName, ...rest] = name.split(' ');
    const ext = {
      id,
      accountId: acc.id,
      extensionNumber: number,
      name,
      firstName: spec.firstName ?? firstName,
      lastName: spec.lastName ?? rest.join(' '),
      email: spec.email ?? (type === 'User' ? `${firstName.toLowerCase()}.${number}@example.com` : undefined),
      type,
      status: spec.status ?? 'Enabled',
      phoneNumber: spec.phoneNumber ?? null, // direct number, E.164
      admin: Boolean(spec.admin),
      password: spec.password ?? null,
      members: type === 'Department' ? (spec.members ?? []).map(String) : undefined,
      deviceId: spec.deviceId ?? digits(9) + '008',
    };
    this.extensions.set(id, ext);
    return ext;
  }

  extension(id) { return this.extensions.get(String(id)); }

  extensionsOf(accountId) { return [...this.extensions.values()].filter((e) => e.accountId === String(accountId)); }

  addApp({ clientId, clientSecret, scopes, grantTypes, name, public: isPublic = false } = {}) {
    const app = {
      clientId: clientId ?? token(22, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'),
      clientSecret: clientSecret ?? token(44),
      name: name ?? 'Emulated app',
      public: Boolean(isPublic), // client-side web app: no secret, client_id in the body
      scopes: scopes ?? ALL_SCOPES,
      grantTypes: grantTypes ?? ['urn:ietf:params:oauth:grant-type:jwt-bearer', 'refresh_token', 'authorization_code'],
    };
    this.apps.set(app.clientId, app);
    return app;
  }

  /**
   * A JWT credential for a user: RingCentral issues these in the developer console; the app
   * presents one as `assertion` in the jwt-bearer grant. Ours is a JWT-shaped string (unsigned
   * claims, the signature part random) that only this emulator can redeem.
   */
  addJwt({ extensionId, clientIds = null, expiresAt = null, jwt } = {}) {
    const ext = this.extension(extensionId);
    if (!ext || ext.type !== 'User') throw Object.assign(new Error('extensionId must name a seeded User extension'), { status: 400 });
    const assertion = jwt ?? [
      b64j({ alg: 'ES256', typ: 'JWT' }),
      b64j({ aud: 'https://platform.ringcentral.com/restapi/oauth/token', sub: ext.id, iss: 'https://platform.ringcentral.com', iat: Math.floor(Date.now() / 1000), jti: token(16) }),
      token(43),
    ].join('.');
    const cred = { assertion, extensionId: ext.id, accountId: ext.accountId, clientIds: clientIds ? clientIds.map(String) : null, expiresAt, revoked: false };
    this.jwts.set(assertion, cred);
    return cred;
  }
}

/** ExtensionInfo as GET /account/~/extension/{id} returns it (fields we model). */
export function extensionInfo(ext, base) {
  const out = {
    uri: `${base}/restapi/v1.0/account/${ext.accountId}/extension/${ext.id}`,
    id: Number(ext.id),
    extensionNumber: ext.extensionNumber,
    name: ext.name,
    type: ext.type,
    status: ext.status,
    account: { uri: `${base}/restapi/v1.0/account/${ext.accountId}`, id: ext.accountId },
  };
  if (ext.type === 'User') out.contact = { firstName: ext.firstName, lastName: ext.lastName, email: ext.email };
  return out;
}
