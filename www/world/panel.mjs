// The tests' hands on Calltrail's in-page panel. The panel lives in a closed shadow root that
// neither the page nor Playwright's locators can enter; its root is kept only in the content
// script's isolated world (`__calltrailPanel.root` in extension/content/panel.js). This driver
// reads the panel there, through the DevTools protocol (Runtime.evaluate in that world), and
// acts on it as the rep does: real mouse clicks at the control's position and real key presses
// (`page.mouse`, `page.keyboard`), which the panel's `isTrusted` checks accept. Nothing in the
// package is opened up for the tests.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT } from './browser.mjs';
import { eventually } from './world.mjs';

/** The panel on `page` (the top frame of a softphone page, or Calltrail's side-panel page). */
export async function panelOn(page) {
  const cdp = await page.context().newCDPSession(page);
  const contexts = new Map(); // execution context id -> { frameId }
  cdp.on('Runtime.executionContextCreated', ({ context }) => {
    contexts.set(context.id, { frameId: context.auxData?.frameId });
  });
  cdp.on('Runtime.executionContextDestroyed', ({ executionContextId }) => contexts.delete(executionContextId));
  cdp.on('Runtime.executionContextsCleared', () => contexts.clear());
  await cdp.send('Runtime.enable');
  return new Panel(page, cdp, contexts);
}

class Panel {
  constructor(page, cdp, contexts) {
    this.page = page;
    this.cdp = cdp;
    this.contexts = contexts;
  }

  /**
   * The world that holds the panel's root in the top frame: Calltrail's isolated world on a web
   * page, the page's own world in Calltrail's side panel. The newest wins (after a reload or an
   * update of the extension, the old world's panel is gone).
   */
  async world() {
    const { frameTree } = await this.cdp.send('Page.getFrameTree');
    const top = frameTree.frame.id;
    const ids = [...this.contexts].filter(([, c]) => c.frameId === top).map(([id]) => id).sort((a, b) => b - a);
    for (const id of ids) {
      const r = await this.cdp.send('Runtime.evaluate', { expression: '!!(globalThis.__calltrailPanel && globalThis.__calltrailPanel.root)', contextId: id, returnByValue: true }).catch(() => null);
      if (r?.result?.value === true) return id;
    }
    return null;
  }

  /**
   * Runs `fn(root, arg)` in the world that holds the panel's root and returns its value (JSON).
   * Throws when there is no panel (yet).
   */
  async evaluate(fn, arg) {
    const id = await this.world();
    if (id == null) throw new Error('no Calltrail panel in this page yet');
    const expression = `(async () => {
      const root = globalThis.__calltrailPanel.root;
      return (${fn})(root, ${JSON.stringify(arg ?? null)});
    })()`;
    const r = await this.cdp.send('Runtime.evaluate', { expression, contextId: id, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description || r.exceptionDetails.text);
    return r.result.value;
  }

  /** Waits for the panel to exist in the page. */
  async ready() {
    await eventually(() => this.evaluate((root) => !!root.querySelector('.root')), { what: 'the Calltrail panel' });
    return this;
  }

  /** The rendered text of `selector` (default: the expanded panel); '' when absent. */
  text(selector = '#ct-panel') {
    return this.evaluate((root, sel) => root.querySelector(sel)?.innerText ?? '', selector).catch(() => '');
  }

  count(selector) {
    return this.evaluate((root, sel) => root.querySelectorAll(sel).length, selector).catch(() => 0);
  }

  isVisible(selector = '#ct-panel') {
    return this.evaluate((root, sel) => {
      const el = root.querySelector(sel);
      return !!el && el.checkVisibility({ visibilityProperty: true }) && el.getClientRects().length > 0;
    }, selector).catch(() => false);
  }

  /** Waits until `selector` is visible (or, with `state: 'hidden'`, not). */
  async waitFor(selector = '#ct-panel', { state = 'visible', ms = 15_000 } = {}) {
    await eventually(async () => (await this.isVisible(selector)) === (state === 'visible'), { ms, what: `${selector} to be ${state} in the panel` });
  }

  /** Waits until the panel's text matches `re`; returns the text. */
  async waitForText(re, { selector = '#ct-panel', ms = 15_000 } = {}) {
    let last = '';
    await eventually(async () => re.test((last = await this.text(selector))), { ms, what: `${re} in the panel (it says: ${JSON.stringify(last.slice(0, 300))})` });
    return last;
  }

  /** A real click (the rep's mouse) at the centre of `selector`, scrolled into view first. */
  async click(selector, { ms = 15_000 } = {}) {
    const at = await eventually(() => this.evaluate((root, sel) => {
      const el = root.querySelector(sel);
      if (!el || el.disabled || !el.checkVisibility()) return null;
      el.scrollIntoView({ block: 'center', inline: 'nearest' });
      const r = el.getBoundingClientRect();
      return r.width && r.height ? { x: r.x + r.width / 2, y: r.y + r.height / 2 } : null;
    }, selector), { ms, what: `${selector} to be clickable in the panel` });
    await this.page.mouse.click(at.x, at.y);
  }

  /** Clicks into `selector` and types `text` over what it held, key by key. */
  async fill(selector, text) {
    await this.click(selector);
    await this.page.keyboard.press('ControlOrMeta+A');
    await this.page.keyboard.press('Backspace');
    await this.page.keyboard.type(text);
  }

  /** Moves focus to `selector` (focus is not an action; the rep's next key is). */
  focus(selector) {
    return this.evaluate((root, sel) => { root.querySelector(sel).focus(); }, selector);
  }

  /** A custom property as the panel's styles resolve it on `selector`. */
  style(selector, property) {
    return this.evaluate((root, [sel, prop]) => getComputedStyle(root.querySelector(sel)).getPropertyValue(prop).trim(), [selector, property]);
  }

  /** axe-core's serious and critical violations inside the panel, run in its own world. */
  async axe() {
    if (!(await this.evaluate(() => typeof globalThis.axe === 'object'))) {
      const source = await readFile(path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
      const id = await this.world();
      const r = await this.cdp.send('Runtime.evaluate', { expression: source, contextId: id });
      if (r.exceptionDetails) throw new Error(`axe did not load: ${r.exceptionDetails.text}`);
    }
    const violations = await this.evaluate(async (root) => {
      // axe walks the document from its top and cannot enter a closed root: give it the
      // panel's tree as the tree to check (axe.run would rebuild it from the document).
      const el = root.querySelector('.root');
      const options = { resultTypes: ['violations'] };
      globalThis.axe.setup(el);
      let partial;
      try {
        partial = await globalThis.axe.runPartial(el, options);
      } finally {
        globalThis.axe.teardown();
      }
      const r = await globalThis.axe.finishRun([partial], options);
      if (!r.passes.length && !r.violations.length) throw new Error('axe checked nothing in the panel');
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
    });
    return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  }
}
