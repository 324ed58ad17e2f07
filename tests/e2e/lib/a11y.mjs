// Accessibility and screenshot helpers shared by the browser tests: axe-core's serious and
// critical violations, keyboard reach of every control, and 1280x800 screenshots into
// out/screenshots/ (docs/screenshots.md).
import assert from 'node:assert/strict';
import { readFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ROOT } from '../../../www/world/browser.mjs';

export const SHOTS = path.join(ROOT, 'out', 'screenshots');

/**
 * axe-core's serious and critical violations on `page`. Extension pages forbid inline scripts,
 * so the source is evaluated through CDP (`page.evaluate`), which their CSP does not govern.
 * The in-page panel has its own (`axe()` of www/world/panel.mjs).
 */
export async function axe(page) {
  const source = await readFile(path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(source);
  const results = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  });
  return results.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/* Run in the page (root: its document) or in the panel's world (root: its closed shadow root). */
function markInteractive(root) {
  const all = [...root.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]')];
  const seenGroups = new Set();
  let n = 0;
  for (const el of all) {
    const style = getComputedStyle(el);
    const hidden = el.closest('[hidden]') || style.visibility === 'hidden' || style.display === 'none' || (el.offsetParent === null && style.position !== 'fixed' && !el.classList.contains('skip-link') && el.type !== 'radio' && el.type !== 'checkbox');
    // A closed <details> keeps its content out of the tab order (Chromium hides it with
    // content-visibility, so offsetParent alone does not tell); its summary stays reachable.
    const folded = el.closest('details:not([open])');
    const inFolded = folded && !(el.tagName === 'SUMMARY' && el.parentElement === folded);
    if (el.disabled || hidden || inFolded || el.getAttribute('tabindex') === '-1' || el.closest('dialog:not([open])')) { el.removeAttribute('data-kb'); continue; }
    if (el.type === 'radio') {
      if (seenGroups.has(el.name)) { el.removeAttribute('data-kb'); continue; }
      seenGroups.add(el.name);
      el.setAttribute('data-kb', `radio:${el.name}`);
    } else {
      el.setAttribute('data-kb', String(n));
    }
    n += 1;
  }
  return n;
}
function focusFirst(root) {
  const el = root.querySelector('[data-kb]');
  el.focus();
  return el.getAttribute('data-kb');
}
function focusedKey(root) {
  let a = root.activeElement;
  while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
  return a ? a.getAttribute('data-kb') : null;
}
function missingOf(root, got) {
  return [...root.querySelectorAll('[data-kb]')].filter((el) => !got.includes(el.getAttribute('data-kb')))
    .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} "${(el.getAttribute('aria-label') || el.textContent || el.value || '').trim().slice(0, 40)}"`);
}

/**
 * Tabs through `target` and checks that focus lands on every interactive element (one stop per
 * radio group, as browsers do). `target` is a page (tabbing from its top) or the in-page panel
 * of www/world/panel.mjs (tabbing from the panel's first control: the host page's own controls
 * come before it).
 */
export async function assertKeyboardReachable(target, { extraTabs = 10 } = {}) {
  const inPanel = typeof target.axe === 'function';
  const keyboard = inPanel ? target.page.keyboard : target.keyboard;
  // Strings, not functions: CDP evaluates them, which an extension page's CSP does not govern.
  const run = inPanel
    ? (fn, arg) => target.evaluate(fn, arg)
    : (fn, arg) => target.evaluate(`(${fn})(document, ${JSON.stringify(arg ?? null)})`);
  const total = await run(markInteractive);
  assert.ok(total > 0, 'there are interactive elements');
  const reached = new Set();
  if (inPanel) reached.add(await run(focusFirst));
  else await target.evaluate(() => { document.activeElement?.blur(); window.getSelection()?.removeAllRanges(); });
  for (let i = 0; i < total + extraTabs; i++) {
    await keyboard.press('Tab');
    const key = await run(focusedKey);
    if (key) reached.add(key);
  }
  const missing = await run(missingOf, [...reached]);
  assert.deepEqual(missing, [], 'every interactive element takes focus from the keyboard');
}

export async function shot(page, name) {
  await mkdir(SHOTS, { recursive: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}
