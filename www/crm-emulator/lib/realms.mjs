// Realms and URL prefixes. A realm is one separate tenant of a vendor: its own records, users,
// OAuth clients and tokens (a Zoho data centre, a Clio region, a Salesforce org). A prefix is the
// first path segment a request arrives on; it names the realm and the role of the host it stands
// for: "api" (the REST API host), "auth" (the OAuth/identity host) or "all" (both, as the
// original single-host prefixes always did). See README.md "Realms and prefixes".

// Zoho data centres: the location value the authorize redirect carries, the accounts host and the
// api_domain host each stands for (https://www.zoho.com/crm/developer/docs/api/v8/multi-dc.html).
export const ZOHO_DCS = {
  us: { accounts: 'accounts.zoho.com', api: 'www.zohoapis.com' },
  eu: { accounts: 'accounts.zoho.eu', api: 'www.zohoapis.eu' },
  in: { accounts: 'accounts.zoho.in', api: 'www.zohoapis.in' },
  au: { accounts: 'accounts.zoho.com.au', api: 'www.zohoapis.com.au' },
  jp: { accounts: 'accounts.zoho.jp', api: 'www.zohoapis.jp' },
  ca: { accounts: 'accounts.zohocloud.ca', api: 'www.zohoapis.ca' },
  cn: { accounts: 'accounts.zoho.com.cn', api: 'www.zohoapis.com.cn' },
  sa: { accounts: 'accounts.zoho.sa', api: 'www.zohoapis.sa' },
};

// Clio Manage regions (openapi.json servers; docs.developers.clio.com/handbook/getting-started/regions).
export const CLIO_REGIONS = { us: 'app.clio.com', eu: 'eu.app.clio.com', ca: 'ca.app.clio.com', au: 'au.app.clio.com' };

/** realm key -> {vendor, ...}. The key is also the realm's canonical API prefix. */
export const REALMS = {
  hubspot: { vendor: 'hubspot', standsFor: 'api.hubapi.com + app.hubspot.com' },
  pipedrive: { vendor: 'pipedrive', standsFor: '{company}.pipedrive.com (api_domain) + oauth.pipedrive.com' },
  salesforce: { vendor: 'salesforce', org: 'production', login: 'salesforce-login', standsFor: 'the production org instance (instance_url)' },
  'salesforce-sandbox': { vendor: 'salesforce', org: 'sandbox', login: 'salesforce-test', standsFor: 'a sandbox org instance (instance_url)' },
  ...Object.fromEntries(Object.entries(ZOHO_DCS).map(([dc, h]) => [dc === 'us' ? 'zoho' : `zoho-${dc}`, { vendor: 'zoho', dc, accounts: dc === 'us' ? 'zoho-accounts' : `zoho-accounts-${dc}`, standsFor: `https://${h.api} (api_domain)` }])),
  ...Object.fromEntries(Object.entries(CLIO_REGIONS).map(([r, host]) => [r === 'us' ? 'clio' : `clio-${r}`, { vendor: 'clio', region: r, standsFor: `https://${host}` }])),
};

/** prefix -> {realm, role, standsFor}. `salesforce-mydomain` takes a second segment (the My Domain name). */
export const PREFIXES = {
  hubspot: { realm: 'hubspot', role: 'all' },
  pipedrive: { realm: 'pipedrive', role: 'all' },
  salesforce: { realm: 'salesforce', role: 'all' },
  'salesforce-sandbox': { realm: 'salesforce-sandbox', role: 'all' },
  'salesforce-login': { realm: 'salesforce', role: 'auth', standsFor: 'https://login.salesforce.com' },
  'salesforce-test': { realm: 'salesforce-sandbox', role: 'auth', standsFor: 'https://test.salesforce.com' },
  'salesforce-mydomain': { mydomain: true, role: 'all', standsFor: 'https://{name}.my.salesforce.com (a name with "--" is a sandbox: {name}.sandbox.my.salesforce.com)' },
  zoho: { realm: 'zoho', role: 'all', standsFor: 'https://www.zohoapis.com and (as before) its accounts server' },
  ...Object.fromEntries(Object.entries(ZOHO_DCS).flatMap(([dc, h]) => {
    const realm = dc === 'us' ? 'zoho' : `zoho-${dc}`;
    const out = [[dc === 'us' ? 'zoho-accounts' : `zoho-accounts-${dc}`, { realm, role: 'auth', standsFor: `https://${h.accounts}` }]];
    if (dc !== 'us') out.push([realm, { realm, role: 'api', standsFor: `https://${h.api}` }]);
    return out;
  })),
  ...Object.fromEntries(Object.entries(CLIO_REGIONS).map(([r, host]) => [r === 'us' ? 'clio' : `clio-${r}`, { realm: r === 'us' ? 'clio' : `clio-${r}`, role: 'all', standsFor: `https://${host}` }])),
};

/** The realm a My Domain name belongs to: "acme" -> production, "acme--uat" -> sandbox. */
export const mydomainRealm = (name) => (String(name).includes('--') ? 'salesforce-sandbox' : 'salesforce');

/**
 * Resolve the path segments of a request to {prefix, realm, role, base, rest}; null when the first
 * segment is not a known prefix. `base` is the URL path the prefix occupies ("/zoho-eu",
 * "/salesforce-mydomain/acme"), `rest` the vendor path after it.
 */
export function resolvePrefix(segs) {
  const p = PREFIXES[segs[1]];
  if (!p) return null;
  if (p.mydomain) {
    const name = segs[2];
    if (!name || !/^[A-Za-z0-9-]+$/.test(name)) return null;
    return { prefix: `${segs[1]}/${name}`, realm: mydomainRealm(name), role: p.role, base: `/${segs[1]}/${name}`, rest: '/' + segs.slice(3).join('/'), mydomain: name };
  }
  return { prefix: segs[1], realm: p.realm, role: p.role, base: `/${segs[1]}`, rest: '/' + segs.slice(2).join('/') };
}
