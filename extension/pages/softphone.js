// Calltrail's side panel (or the same page in a tab): runs the softphone the settings name
// (`side_panel_softphone`, e.g. RingCentral Embeddable's app.html with the company's client id)
// in a frame of this page. The bridge and panel scripts this page loads treat it exactly like a
// rep's own page that embeds a softphone; no site permission is needed, since the softphone is a
// frame of the extension's own page.
import { ask } from './lib/api.js';
import { h, $, fill, banner } from './lib/dom.js';

async function show() {
  let state;
  try {
    state = await ask('state');
  } catch (e) {
    fill($('#softphone'), banner('danger', 'Calltrail could not start', e.message));
    return;
  }
  const url = state.wanted && state.wanted.side_panel;
  if (!url) {
    fill($('#softphone'), h('div', { class: 'empty' },
      h('h1', { class: 'empty-title', text: 'No softphone for the side panel yet' }),
      h('p', { class: 'empty-text', text: 'Set the address of your softphone (for RingCentral, its Embeddable app with your company’s client id) in Calltrail’s settings, under “Where your softphone runs”.' }),
      h('a', { class: 'btn', href: 'options.html#get-started', target: '_blank' }, 'Open settings')));
    return;
  }
  const frame = h('iframe', { src: url, title: 'Softphone', allow: 'microphone; autoplay; clipboard-write' });
  fill($('#softphone'), frame);
}

show();
