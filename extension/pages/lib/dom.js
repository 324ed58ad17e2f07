// Small DOM helpers shared by the pages: element builder, icons, chips, banners, empty and
// loading states, announcements for screen readers, downloads. No HTML strings are parsed:
// everything the worker says is set as text.
import { TONE_ICON } from '../../lib/format.js';

/** h('button', {class: 'btn', onclick}, 'Save') */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'indeterminate') el[k] = !!v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// Stroke icons on a 24-unit grid: strings are path data, {c: [cx, cy, r]} circles, {r: [x, y, w, h, rx]} rects.
const ICONS = {
  check: ['M5 12.5l4.5 4.5L19 7.5'],
  clock: [{ c: [12, 12, 8.5] }, 'M12 7.5V12l3 2'],
  alert: ['M12 4l9 16H3z', 'M12 10v4', 'M12 17.2v.3'],
  x: ['M7 7l10 10M17 7L7 17'],
  minus: ['M7 12h10'],
  search: [{ c: [11, 11, 6.5] }, 'M20 20l-4.3-4.3'],
  sync: ['M19.5 10A7.5 7.5 0 0 0 6 6.6L4 8.5', 'M4 4v4.5h4.5', 'M4.5 14A7.5 7.5 0 0 0 18 17.4l2-1.9', 'M20 20v-4.5h-4.5'],
  external: ['M14 4h6v6', 'M20 4l-8.5 8.5', 'M18 14v4.5A1.5 1.5 0 0 1 16.5 20h-11A1.5 1.5 0 0 1 4 18.5v-11A1.5 1.5 0 0 1 5.5 6H10'],
  download: ['M12 4v11', 'M7.5 10.5L12 15l4.5-4.5', 'M5 20h14'],
  upload: ['M12 16V5', 'M7.5 9.5L12 5l4.5 4.5', 'M5 20h14'],
  plus: ['M12 5v14M5 12h14'],
  trash: ['M4.5 7h15', 'M9.5 7V4.5h5V7', 'M6.5 7l1 12.5h9l1-12.5'],
  lock: [{ r: [5, 11, 14, 9, 2] }, 'M8.5 11V8a3.5 3.5 0 0 1 7 0v3'],
  inbound: ['M17 7L7 17', 'M7 9.5V17h7.5'],
  outbound: ['M7 17L17 7', 'M9.5 7H17v7.5'],
  user: [{ c: [12, 8, 3.8] }, 'M4.5 20a7.5 7.5 0 0 1 15 0'],
  inbox: ['M4 13.5h4.5l1.5 2.5h4l1.5-2.5H20', 'M6 5h12l2 8.5V19H4v-5.5z'],
  history: ['M3.5 12a8.5 8.5 0 1 0 2.5-6L3.5 8.5', 'M3.5 4v4.5H8', 'M12 8v4l3 2'],
  list: ['M9 6.5h11M9 12h11M9 17.5h11', 'M4.5 6.5h.5M4.5 12h.5M4.5 17.5h.5'],
  settings: ['M4 7h9M17 7h3M4 17h3M11 17h9', { c: [15, 7, 2] }, { c: [9, 17, 2] }],
  plug: ['M9 3v5M15 3v5', 'M6.5 8h11v3a5.5 5.5 0 0 1-11 0z', 'M12 16.5V21'],
  info: [{ c: [12, 12, 8.5] }, 'M12 11v5', 'M12 8v.3'],
  chevron: ['M9 6l6 6-6 6'],
  filter: ['M4 5h16l-6 7.5V19l-4-2v-4.5z'],
};

export function icon(name, { size = 16, label = null } = {}) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', size);
  svg.setAttribute('height', size);
  svg.setAttribute('class', 'icon');
  svg.setAttribute('focusable', 'false');
  if (label) { svg.setAttribute('role', 'img'); svg.setAttribute('aria-label', label); } else svg.setAttribute('aria-hidden', 'true');
  for (const part of ICONS[name] || []) {
    let el;
    if (typeof part === 'string') { el = document.createElementNS(ns, 'path'); el.setAttribute('d', part); }
    else if (part.c) { el = document.createElementNS(ns, 'circle'); ['cx', 'cy', 'r'].forEach((k, i) => el.setAttribute(k, part.c[i])); }
    else { el = document.createElementNS(ns, 'rect'); ['x', 'y', 'width', 'height', 'rx'].forEach((k, i) => el.setAttribute(k, part.r[i])); }
    svg.append(el);
  }
  return svg;
}

/** The brand mark (the toolbar icon's shape). */
export function logo(size = 28) {
  const ns = 'http://www.w3.org/2000/svg';
  const el = (tag, attrs) => { const e = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); return e; };
  const svg = el('svg', { viewBox: '0 0 24 24', width: size, height: size, class: 'logo', 'aria-hidden': 'true', focusable: 'false' });
  svg.append(
    el('rect', { width: '24', height: '24', rx: '6', class: 'logo-bg' }),
    el('path', { d: 'M6.5 8h11', class: 'logo-fg', 'stroke-width': '2.4', 'stroke-linecap': 'round' }),
    el('circle', { cx: '7.5', cy: '15.5', r: '1.7', class: 'logo-dot' }),
    el('circle', { cx: '12', cy: '15.5', r: '1.45', class: 'logo-dot', opacity: '0.8' }),
    el('circle', { cx: '16.2', cy: '15.5', r: '1.15', class: 'logo-dot', opacity: '0.6' }));
  return svg;
}

/** A status chip for a SlotView (its `status`, `word` and `tone` come from the worker). */
export function statusChip(slot, text = null) {
  const tone = slot.tone || 'neutral';
  return h('span', { class: `chip chip-${tone}`, dataset: { status: slot.status } }, icon(TONE_ICON[tone] || 'info', { size: 14 }), text || slot.word);
}

export function chip(text, tone = 'neutral', iconName = null) {
  return h('span', { class: `chip chip-${tone}` }, iconName ? icon(iconName, { size: 14 }) : null, text);
}

/** A banner: tone is info | success | warning | danger. Danger banners are alerts. */
export function banner(tone, title, text = null, ...actions) {
  const iconName = { success: 'check', warning: 'alert', danger: 'alert', info: 'info' }[tone] || 'info';
  return h('div', { class: `banner banner-${tone}`, role: tone === 'danger' ? 'alert' : 'status' },
    icon(iconName, { size: 18 }),
    h('div', { class: 'banner-body' }, h('strong', { class: 'banner-title', text: title }), text ? h('div', { class: 'banner-text' }, text) : null),
    actions.length ? h('div', { class: 'banner-actions' }, actions) : null);
}

export function emptyState({ iconName = 'inbox', title, text, action = null }) {
  return h('div', { class: 'empty' },
    h('div', { class: 'empty-icon' }, icon(iconName, { size: 28 })),
    h('h2', { class: 'empty-title', text: title }),
    text ? h('p', { class: 'empty-text', text }) : null,
    action);
}

/** Placeholder rows while a list loads. */
export function skeleton(rows = 5) {
  return h('div', { class: 'skeleton', 'aria-hidden': 'true' },
    Array.from({ length: rows }, (_, i) => h('div', { class: 'skeleton-row', style: `--w:${70 - (i % 3) * 12}%` })));
}

export function loading(text = 'Loading…') {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

let liveRegion = null;
/** Tells screen readers something changed (polite). */
export function announce(text) {
  if (!liveRegion) {
    liveRegion = h('div', { class: 'visually-hidden', 'aria-live': 'polite', 'aria-atomic': 'true' });
    document.body.append(liveRegion);
  }
  liveRegion.textContent = '';
  setTimeout(() => { liveRegion.textContent = text; }, 60);
}

/** Saves `text` as a file through the browser's download, without any permission. */
export function download(filename, text, type = 'text/plain') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: filename, class: 'visually-hidden', tabindex: '-1' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Disables a button while `fn` runs and shows a spinner in it. */
export async function busy(button, fn, busyText = null) {
  const label = [...button.childNodes];
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  if (busyText) fill(button, h('span', { class: 'spinner spinner-s', 'aria-hidden': 'true' }), busyText);
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    if (busyText) fill(button, ...label);
  }
}

export const today = () => new Date().toISOString().slice(0, 10);

/**
 * Re-renders `container` with `render()` and puts focus back on the element with the same
 * `data-key` (lists refresh on the worker's notices while the rep is working in them).
 */
export function rerender(container, render) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.key : null;
  render();
  if (key) {
    const again = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again && !again.disabled) again.focus();
  }
}
