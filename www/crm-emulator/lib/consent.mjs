// The authorize endpoint every vendor shares: validate the client and redirect_uri (an error page,
// never a redirect, when either is wrong, as RFC 6749 4.1.2.1 and the vendors do), then either
// redirect at once (admin config autoApprove, the default) or show an HTML consent page whose
// form posts back to the same path with decision=allow|deny. What differs per vendor (labels,
// required parameters, what a denial sends, Zoho's location/accounts-server) is the `spec`.

export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

export function htmlPage(status, title, inner) {
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:15px/1.4 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}code{background:#eee;padding:0 .2em}button{font-size:1rem;padding:.4rem 1rem;margin-right:.5rem}</style>
</head><body>${inner}</body></html>`;
  return { status, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }, body };
}

const DEFAULT_ERRORS = {
  missing_client: 'The request has no client_id.',
  unknown_client: 'The client_id is not a registered app.',
  missing_redirect: 'The request has no redirect_uri.',
  bad_redirect: 'The redirect_uri is not an absolute URL.',
  redirect_mismatch: "The redirect_uri doesn't match the app's registered redirect URL.",
  missing_scope: 'The request has no scope.',
  unknown_user: 'No user with that login exists here.',
  inactive_user: 'That user is not active and cannot sign in.',
  bad_form: 'The consent form was not posted as application/x-www-form-urlencoded.',
  bad_decision: 'The consent form must carry decision=allow or decision=deny.',
};

/**
 * Handle GET (and the consent form's POST) on an authorize path.
 * spec: {vendorName, allowLabel, denyLabel, requireResponseType, requireScope, scopeSep,
 *        denyMode: 'redirect'|'page', denyParams, errorPage(kind, msg) -> {title, message},
 *        codeExtra(q) -> extra code props, redirectExtra(ctx, realmKey) -> params,
 *        findUser(ctx, ref) -> {realmKey, user}|null}
 */
export function authorize(ctx, spec) {
  const isPost = ctx.method === 'POST';
  const errorPage = (kind, status = 400) => {
    const msg = DEFAULT_ERRORS[kind] || kind;
    const t = spec.errorPage ? spec.errorPage(kind, msg) : { title: `${spec.vendorName} - authorization error`, message: msg };
    return htmlPage(status, t.title, `<main id="oauth-error" data-error="${esc(kind)}"><h1>${esc(t.title)}</h1><p id="error-message">${esc(t.message)}</p></main>`);
  };
  if (isPost && ctx.contentType !== 'application/x-www-form-urlencoded') return errorPage('bad_form');
  const q = isPost ? new URLSearchParams(ctx.body && typeof ctx.body === 'object' ? ctx.body : {}) : ctx.query;
  const clientId = q.get('client_id');
  const redirect = q.get('redirect_uri');
  if (!clientId) return errorPage('missing_client');
  const client = ctx.tokens.clients.get(clientId);
  if (!client) return errorPage('unknown_client');
  if (!redirect) return errorPage('missing_redirect');
  let target;
  try { target = new URL(redirect); } catch { return errorPage('bad_redirect'); }
  if (client.redirectUris && !client.redirectUris.includes(redirect)) return errorPage('redirect_mismatch');

  const state = q.get('state');
  const back = (params) => {
    const u = new URL(target);
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) u.searchParams.set(k, v);
    if (state !== null) u.searchParams.set('state', state);
    return { status: 302, headers: { location: u.toString(), 'cache-control': 'no-store' }, body: null };
  };
  if (spec.requireResponseType && q.get('response_type') !== 'code') {
    return back({ error: 'unsupported_response_type', error_description: q.get('response_type') ? `response_type ${q.get('response_type')} is not supported` : 'response_type is required' });
  }
  if (spec.requireScope && !q.get('scope')) return errorPage('missing_scope');
  const method = q.get('code_challenge_method');
  if (q.get('code_challenge') && method && !['S256', 'plain'].includes(method)) return back({ error: 'invalid_request', error_description: `code_challenge_method ${method} is not supported` });
  if (client.requirePkce && !q.get('code_challenge')) return back({ error: 'invalid_request', error_description: 'missing required code challenge' });

  const autoApprove = ctx.emu.config.autoApprove !== false;
  const ref = q.get('login') || q.get('login_hint') || null;
  const found = spec.findUser ? spec.findUser(ctx, ref) : findInRealm(ctx, ref);

  if (!isPost && !autoApprove) return consentPage(ctx, spec, q, client, found);

  if (isPost) {
    const decision = q.get('decision');
    if (decision === 'deny') {
      if (spec.denyMode === 'page') {
        return htmlPage(200, `${spec.vendorName} - access not granted`, `<main id="oauth-denied"><h1>${esc(spec.vendorName)}</h1><p>You did not connect the app. Nothing was sent to it.</p></main>`);
      }
      return back(spec.denyParams || { error: 'access_denied' });
    }
    if (decision !== 'allow') return errorPage('bad_decision');
  }
  if (!found || !found.user) return errorPage('unknown_user');
  if (!found.user.active) return errorPage('inactive_user');

  const tokens = ctx.emu.tokens[found.realmKey];
  const code = tokens.issueCode({
    clientId,
    redirectUri: redirect,
    codeChallenge: q.get('code_challenge'),
    codeChallengeMethod: method || (q.get('code_challenge') ? 'plain' : null),
    scopes: q.get('scope') ? q.get('scope').split(spec.scopeSep || /[ ,+]+/).filter(Boolean) : null,
    userId: found.user.id,
    ...(spec.codeExtra ? spec.codeExtra(q) : {}),
  });
  return back({ code, ...(spec.redirectExtra ? spec.redirectExtra(ctx, found.realmKey) : {}) });
}

/** The signed-in user: login/login_hint (id or email) in this realm, else the realm's current user. */
export function findInRealm(ctx, ref) {
  const dir = ctx.emu.users[ctx.realm.key];
  const user = ref ? dir.resolve(ref) : dir.current();
  return user ? { realmKey: ctx.realm.key, user } : null;
}

function consentPage(ctx, spec, q, client, found) {
  const dir = ctx.emu.users[found && found.user ? found.realmKey : ctx.realm.key];
  const scopes = q.get('scope') ? q.get('scope').split(spec.scopeSep || /[ ,+]+/).filter(Boolean) : [];
  const hidden = [...q.entries()].filter(([k]) => !['decision', 'login'].includes(k)).map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('');
  const selected = found && found.user ? found.user.id : null;
  const options = dir.list().filter((u) => u.active).map((u) => `<option value="${esc(u.email)}"${u.id === selected ? ' selected' : ''}>${esc(u.name)} &lt;${esc(u.email)}&gt;</option>`).join('');
  const appName = client.name || q.get('client_id');
  const title = `${spec.vendorName} - Allow ${appName} to access your account`;
  const inner = `<main id="consent" data-vendor="${esc(spec.vendorName)}" data-client-id="${esc(q.get('client_id'))}">
<h1>${esc(spec.vendorName)}</h1>
<p><strong id="app-name">${esc(appName)}</strong> (client id <code id="client-id">${esc(q.get('client_id'))}</code>) wants to access your ${esc(spec.vendorName)} account.</p>
${scopes.length ? `<p>It asks for:</p><ul id="scopes">${scopes.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>` : '<p id="scopes">It asks for the permissions set in the app\'s settings.</p>'}
<p>It will be sent back to <code id="redirect-uri">${esc(q.get('redirect_uri'))}</code>.</p>
<form method="post" action="${esc(ctx.baseUrl + ctx.path)}" id="consent-form">${hidden}
<p><label for="login">Signed in as</label> <select id="login" name="login">${options}</select></p>
<button type="submit" id="allow" name="decision" value="allow" aria-label="Allow">${esc(spec.allowLabel || 'Allow')}</button>
<button type="submit" id="deny" name="decision" value="deny" aria-label="Deny">${esc(spec.denyLabel || 'Deny')}</button>
</form></main>`;
  return htmlPage(200, title, inner);
}
