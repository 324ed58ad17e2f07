// Demo host page: embeds the softphone in an iframe with RingCentral's adapter id
// (#rc-widget-adapter-frame) from another origin, and records what the softphone posts.
//
// The softphone's URL comes from `?softphone=<url>`, else from `config.json` (served by
// www/serve.mjs), else http://<this host>:8801/. Tests and the demo read
// `window.calltrailHost.messages` ({origin, data, at} for every message from the frame) and
// drive the softphone with `window.calltrailHost.send(command)`, which posts to the frame with
// the softphone's exact origin as targetOrigin.
'use strict';

(() => {
  const messages = [];
  let softphoneOrigin = null;
  let frame = null;

  function send(command) {
    if (!frame || !softphoneOrigin) throw new Error('softphone not loaded yet');
    frame.contentWindow.postMessage(command, softphoneOrigin);
  }

  // Registered now, before the frame exists, so the softphone's first message is not missed.
  window.addEventListener('message', (event) => {
    if (!frame || event.source !== frame.contentWindow || event.origin !== softphoneOrigin) return;
    const entry = { origin: event.origin, data: event.data, at: Date.now() };
    messages.push(entry);
    const log = document.getElementById('log');
    if (log) {
      const li = document.createElement('li');
      li.textContent = JSON.stringify(event.data);
      log.append(li);
    }
  });

  window.calltrailHost = { messages, send, get softphoneOrigin() { return softphoneOrigin; } };

  async function softphoneUrl() {
    const fromQuery = new URLSearchParams(location.search).get('softphone');
    if (fromQuery) return fromQuery;
    try {
      const r = await fetch('config.json', { cache: 'no-store' });
      if (r.ok) return (await r.json()).softphoneUrl;
    } catch {
      // No config server: fall back to the default port.
    }
    return `${location.protocol}//${location.hostname}:8801/`;
  }

  document.addEventListener('DOMContentLoaded', async () => {
    frame = document.getElementById('rc-widget-adapter-frame');
    const url = new URL(await softphoneUrl(), location.href);
    softphoneOrigin = url.origin;
    document.getElementById('softphone-origin').textContent = softphoneOrigin;
    frame.src = url.href;

    const number = (el) => el.dataset.number;
    document.getElementById('click-to-dial').addEventListener('click', (e) =>
      send({ type: 'rc-adapter-new-call', phoneNumber: number(e.currentTarget), toCall: true }));
    document.getElementById('click-to-text').addEventListener('click', (e) =>
      send({ type: 'rc-adapter-new-sms', phoneNumber: number(e.currentTarget), text: '' }));
    const demo = {
      'calltrail-demo-incoming-call': { phoneNumber: '+14155550123', name: 'Pat Example' },
      'calltrail-demo-incoming-sms': { phoneNumber: '+14155550123', text: 'Running 10 minutes late' },
      'calltrail-demo-send-fax': { phoneNumber: '+14155550123', pages: 3 },
    };
    for (const button of document.querySelectorAll('[data-command]')) {
      button.addEventListener('click', () => {
        const type = button.dataset.command;
        send({ type, ...(demo[type] || {}) });
      });
    }
  });
})();
