// Accessibility and screenshot helpers shared by the browser tests: axe-core's serious and
// critical violations, keyboard reach of every control, and 1280x800 screenshots into
// out/screenshots/ (docs/screenshots.md).
import assert from 'node:assert/strict';
import { readFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ROOT } from '../../../www/world/browser.mjs';

export const SHOTS = path.join(ROOT, 'out', 'screenshots');

/**
 * axe-core's serious and critical violations on `page` (or inside `include`). Extension pages
 * forbid inline scripts, so the source is evaluated through CDP (`page.evaluate`), which their
 * CSP does not govern.
 */
export async function axe(page, include = null) {
  const source = await readFile(path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(source);
  const results = await page.evaluate(async (sel) => {
    const ctx = sel ? { include: [[sel]] } : document;
    const r = await window.axe.run(ctx, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  }, include);
  return results.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/**
 * Tabs through the page from the top and checks that focus lands on every interactive element
 * (one stop per radio group, as browsers do). `scope` limits the check to a shadow host.
 */
export async function assertKeyboardReachable(page, { scope = null, extraTabs = 10 } = {}) {
  const total = await page.evaluate((scopeSel) => {
    const root = scopeSel ? document.querySelector(scopeSel).shadowRoot : document;
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
  }, scope);
  assert.ok(total > 0, 'the page has interactive elements');
  const reached = new Set();
  if (scope) {
    // Start on the panel's first control: the host page's own controls come before it.
    const first = await page.evaluate((s) => {
      const el = document.querySelector(s).shadowRoot.querySelector('[data-kb]');
      el.focus();
      return el.getAttribute('data-kb');
    }, scope);
    reached.add(first);
  } else {
    await page.evaluate(() => { document.activeElement?.blur(); window.getSelection()?.removeAllRanges(); });
  }
  for (let i = 0; i < total + extraTabs; i++) {
    await page.keyboard.press('Tab');
    const key = await page.evaluate(() => {
      let a = document.activeElement;
      while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
      return a ? a.getAttribute('data-kb') : null;
    });
    if (key) reached.add(key);
  }
  const missing = await page.evaluate(({ scopeSel, got }) => {
    const root = scopeSel ? document.querySelector(scopeSel).shadowRoot : document;
    return [...root.querySelectorAll('[data-kb]')].filter((el) => !got.includes(el.getAttribute('data-kb')))
      .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} "${(el.getAttribute('aria-label') || el.textContent || el.value || '').trim().slice(0, 40)}"`);
  }, { scopeSel: scope, got: [...reached] });
  assert.deepEqual(missing, [], 'every interactive element takes focus from the keyboard');
}

export async function shot(page, name) {
  await mkdir(SHOTS, { recursive: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}
