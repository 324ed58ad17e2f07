// The header every page shares: brand, the four sections (with the unresolved count), and
// the integrations' connection at a glance. Counts come from the worker's `state` answer and
// refresh on its notices.
import { ask, onNotice } from './api.js';
import { h, icon, logo, fill } from './dom.js';

const LINKS = [
  { id: 'history', href: 'history.html', label: 'History', icon: 'history' },
  { id: 'unresolved', href: 'unresolved.html', label: 'Unresolved', icon: 'inbox' },
  { id: 'audit', href: 'audit.html', label: 'Audit', icon: 'list' },
  { id: 'settings', href: 'options.html', label: 'Settings', icon: 'settings' },
  { id: 'diagnostics', href: 'diagnostics.html', label: 'Diagnostics', icon: 'info' },
];

/**
 * Builds the header into `<header class="app-header">` and a skip link before it. Returns
 * `{ state }`: a function giving the last `state` answer (or null).
 */
export function mountHeader(current) {
  const header = document.querySelector('header.app-header');
  const count = h('span', { class: 'nav-count', hidden: true });
  const status = h('div', { class: 'header-status', 'aria-label': 'CRM connections' });
  const nav = h('nav', { class: 'app-nav', 'aria-label': 'Calltrail' },
    h('ul', {}, LINKS.map((l) => h('li', {},
      h('a', { href: l.href, class: 'nav-link', 'aria-current': l.id === current ? 'page' : null },
        icon(l.icon, { size: 16 }), h('span', { text: l.label }), l.id === 'unresolved' ? count : null)))));
  fill(header,
    h('a', { class: 'brand', href: 'history.html' }, logo(28), h('span', { class: 'brand-name', text: 'Calltrail' })),
    nav,
    status);
  document.body.prepend(h('a', { class: 'skip-link', href: '#main' }, 'Skip to content'));

  let last = null;
  async function refresh() {
    try {
      last = await ask('state');
    } catch {
      return; // the page itself shows the worker's problem
    }
    const n = last.unresolved || 0;
    count.hidden = n === 0;
    count.textContent = String(n);
    count.setAttribute('aria-label', `${n} unresolved`);
    fill(status, last.integrations.map((i) => {
      const parked = i.health && i.health.parked;
      const tone = !i.connected ? 'neutral' : parked ? 'danger' : 'success';
      const words = !i.connected ? 'not connected' : parked ? 'needs sign-in' : 'connected';
      return h('a', { class: `conn conn-${tone}`, href: 'options.html#integration-' + encodeURIComponent(i.id), title: `${i.label}: ${words}` },
        h('span', { class: 'conn-dot', 'aria-hidden': 'true' }), h('span', { class: 'conn-label', text: i.label }), h('span', { class: 'visually-hidden', text: `: ${words}` }));
    }));
  }
  refresh();
  onNotice(refresh, { debounceMs: 300 });
  return { state: () => last, refresh };
}
