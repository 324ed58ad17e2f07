// Every softphone protocol end to end in Chromium: the demo softphone speaks each vendor's
// protocol (www/softphone/protocols.js, the shapes of tests/fixtures/softphones/), the origin is
// tagged with it in the settings, and an inbound answered call and an outbound missed one are
// logged into the CRMs through the real extension; SMS where the vendor reports it; forged and
// malformed messages are refused and counted. Then RingCentral Embeddable with Calltrail
// registered as its logger: the widget's contact search shows both CRMs' contacts, and the
// logger's recording link and AI note reach HubSpot and Salesforce.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, eventually } from '../../www/world/world.mjs';
import { callView, recordText, sleep } from '../../www/world/calls.mjs';

const PAT = '+12125550142'; // calls in
const LIN = '+12125550177'; // is called and does not answer
const TEXTER = '+12125550143';

let world;
before(async () => {
  world = await startWorld({
    integrations: [
      { id: 'hs', kind: 'hubspot', label: 'HubSpot' },
      { id: 'sf', kind: 'salesforce', label: 'Salesforce' },
      { id: 'pd', kind: 'pipedrive', label: 'Pipedrive' },
    ],
  });
  await world.configure();
  for (const [first, last, phone] of [['Pat', 'Example', PAT], ['Lin', 'Outbound', LIN], ['Tex', 'Ter', TEXTER]]) {
    await world.emulator.seed('hubspot', [{ firstName: first, lastName: last, phone }]);
    await world.emulator.seed('salesforce', [{ firstName: first, lastName: last, phone }]);
    await world.emulator.seed('pipedrive', [{ name: `${first} ${last}`, phone }]);
  }
});
after(async () => { await world?.close(); });

/** The engine's id of the newest call the softphone posted, from the messages themselves. */
function callIdIn(protocol, messages) {
  for (const { data: d } of [...messages].reverse()) {
    switch (protocol) {
      case 'justcall': if (d.name === 'call-ringing') return `justcall:${d.data.call_sid}`; break;
      case 'ringover': if (d.action === 'ringingCall') return `ringover:${d.data.call_id}`; break;
      case 'ringcx': if (d.payload && d.payload.call) return `ringcx:${d.payload.call.id}`; break;
      case 'aircall': if (/^apm_phone_(incoming|outgoing)_call$/.test(d.name)) return `aircall:${d.value.call_id}`; break;
      case 'zoom': if (d.type === 'zp-call-ringing-event') return `zoom:${d.data.callId}`; break;
      case 'hubspot': if (d.data && d.data.fromNumber) return `hubspot-ext:${world.softphoneOrigin}:${d.data.externalCallId}`; break;
      default: break;
    }
  }
  return null;
}

const messages = () => world.hostPage.evaluate(() => window.calltrailHost.messages);

/** Plays one call and returns its id: inbound answered, or outbound nobody answers. */
async function play(protocol, inbound) {
  const before = (await messages()).length;
  if (inbound) {
    await world.softphone({ type: 'calltrail-demo-incoming-call', phoneNumber: PAT, name: 'Pat Example' });
    await sleep(200);
    await world.softphone({ type: 'calltrail-demo-answer' });
    await sleep(1200);
  } else {
    await world.softphone({ type: 'rc-adapter-new-call', phoneNumber: LIN, toCall: true });
    await sleep(700);
  }
  await world.softphone({ type: 'calltrail-demo-hangup' });
  return eventually(async () => callIdIn(protocol, (await messages()).slice(before)), { what: `${protocol} to post a call` });
}

async function rejected() {
  return (await world.send({ type: 'diagnostics' })).data.softphone.rejected;
}

/** What each protocol's malformed message looks like, and the reason it is refused for. */
const MALFORMED = {
  justcall: [{ name: 'call-ended', data: { direction: 'inbound', duration: 9 } }, 'missing_field'],
  ringover: [{ action: 'hangupCall', data: { direction: 'inbound', from_number: PAT, to_number: '+16505550100', call_id: '1' } }, 'invalid_value'],
  ringcx: [{ type: 'MessageTransport-push', payload: 'rc-ev-endCall' }, 'wrong_type'],
  aircall: [{ name: 'apm_app_dial_number', value: { phone_number: PAT } }, 'unknown_type'],
  zoom: [{ type: 'zp-call-ended-event', data: { direction: 'inbound' } }, 'missing_field'],
  hubspot: [{ type: 'CALL_ENDED', data: { externalCallId: 'x', callEndStatus: 'EXPLODED' } }, 'missing_field'],
};

/** A message the page forges in the protocol's shape. */
const FORGED = {
  justcall: { name: 'call-ended', data: { call_sid: 'CAforged', direction: 'inbound', duration: 3600 } },
  ringover: { action: 'hangupCall', data: { direction: 'in', from_number: PAT, to_number: '+16505550100', internal: false, call_id: '9', ringDuration: 0, callDuration: 3600 } },
  ringcx: { type: 'MessageTransport-push', payload: { type: 'rc-ev-endCall', call: { id: '1', direction: 'INBOUND', from: { phoneNumber: PAT }, to: { phoneNumber: '+16505550100' }, startTime: Date.now() - 5000 } } },
  aircall: { name: 'apm_phone_call_ended', value: { duration: 3600, call_id: 1 } },
  zoom: { type: 'zp-call-ended-event', data: { callId: '1', direction: 'inbound', caller: { phoneNumber: PAT }, callee: { phoneNumber: '+16505550100' } } },
  hubspot: { type: 'CALL_ENDED', data: { externalCallId: 'y', engagementId: 1, callEndStatus: 'COMPLETED' }, messageId: '1_3' },
};

for (const protocol of ['justcall', 'ringover', 'ringcx', 'aircall', 'zoom', 'hubspot']) {
  test(`${protocol}: an inbound answered call and an outbound missed one are logged; forgeries are refused`, async () => {
    await world.configure({ softphone_protocols: { [world.softphoneOrigin]: protocol } });
    const page = await world.openSoftphone({ protocol });
    // HubSpot's calling extensions have HubSpot log the call itself: Calltrail skips it there.
    const logged = protocol === 'hubspot' ? ['sf', 'pd'] : ['hs', 'sf', 'pd'];
    try {
      for (const inbound of [true, false]) {
        const id = await play(protocol, inbound);
        const view = await eventually(async () => {
          const v = await callView(world, id);
          const states = Object.fromEntries(v.slots.map((s) => [s.integration, s.status]));
          return logged.every((i) => states[i] === 'logged') ? v : null;
        }, { what: `${protocol} ${inbound ? 'inbound' : 'outbound'} call ${id} logged in ${logged}` });
        // RingCX does not say whether an outbound call's far end answered.
        const result = inbound ? 'answered' : protocol === 'ringcx' ? 'unknown' : 'missed';
        assert.equal(view.call.result, result, `${protocol} ${id}`);
        assert.equal(view.call.direction, inbound ? 'inbound' : 'outbound');
        assert.equal(view.call.their_number, inbound ? PAT : LIN);
        const logs = await world.emulator.calls(`calltrail:call|${id}|`);
        assert.deepEqual(logs.byVendor, Object.fromEntries(logged.map((i) => [{ hs: 'hubspot', sf: 'salesforce', pd: 'pipedrive' }[i], 1])), `${protocol} ${id}: once per CRM`);
        if (protocol === 'hubspot') {
          const hs = view.slots.find((s) => s.integration === 'hs');
          assert.equal(hs.status, 'skipped');
          assert.equal(hs.detail, 'HubSpot logs this call itself (its calling extension made the call\'s record)');
        }
      }

      // SMS, where the vendor reports it: JustCall inbound only, Ringover both ways.
      if (protocol === 'justcall' || protocol === 'ringover') {
        const text = `Quote for ${protocol}?`;
        await world.softphone({ type: 'calltrail-demo-incoming-sms', phoneNumber: TEXTER, text });
        if (protocol === 'ringover') await world.softphone({ type: 'calltrail-demo-send-sms', phoneNumber: TEXTER, text: `Sent from ${protocol}` });
        await eventually(async () => {
          const m = await world.emulator.messages(`calltrail:msg|hs|${protocol}:`);
          const texts = Object.values(m.records).flat().map(recordText).join(' ');
          return texts.includes(text) && (protocol !== 'ringover' || texts.includes(`Sent from ${protocol}`));
        }, { what: `${protocol} SMS logged` });
      }

      // Forgeries: the page posting to itself, a frame on another origin, a malformed message
      // from the softphone's own frame. Each is refused, counted by reason, and logs nothing.
      const before = await rejected();
      const calls = (await world.emulator.calls('calltrail:')).count;
      await page.evaluate((m) => window.postMessage(m, '*'), FORGED[protocol]);
      await page.evaluate((m) => {
        const f = document.createElement('iframe');
        f.src = `forged.html?msg=${encodeURIComponent(JSON.stringify(m))}`;
        document.body.append(f);
      }, FORGED[protocol]);
      const [malformed, reason] = MALFORMED[protocol];
      await world.softphone({ type: 'calltrail-demo-post', data: malformed });
      const after = await eventually(async () => {
        const r = await rejected();
        const more = (k) => (r[k] || 0) > (before[k] || 0);
        return more('not_from_softphone_frame') && more('untrusted_origin') && more(reason) ? r : null;
      }, { what: `${protocol}: the three forgeries counted` });
      assert.ok(after);
      await sleep(500);
      assert.equal((await world.emulator.calls('calltrail:')).count, calls, 'nothing logged from them');
    } finally {
      await page.close();
    }
  });
}

test('RingCentral Embeddable with Calltrail as its logger: contact search, recording and AI note', async () => {
  await world.configure({ softphone_protocols: { [world.softphoneOrigin]: 'ringcentral' } });
  const page = await world.openSoftphone();
  const phone = page.frameLocator('#rc-widget-adapter-frame');
  // The widget said it was logged in; Calltrail registered itself as its logger.
  await phone.getByText('Calls are logged with Calltrail').waitFor();

  // Pat calls: the widget asks for Pat's contacts and shows both CRMs' (and Pipedrive's).
  await world.softphone({ type: 'calltrail-demo-incoming-call', phoneNumber: PAT, name: 'Pat Example' });
  const matches = phone.getByRole('list', { name: 'Matched contacts' });
  await eventually(async () => (await matches.innerText()).includes('HubSpot') && (await matches.innerText()).includes('Salesforce'), { what: 'matches from two CRMs in the widget' });
  await world.softphone({ type: 'calltrail-demo-answer' });
  await sleep(1200);
  await world.softphone({ type: 'calltrail-demo-hangup' });

  // The dialer's contact search shows Pat from each CRM.
  await phone.getByLabel('Search contacts').fill('pat ex');
  await phone.getByRole('button', { name: 'Search' }).click();
  const found = phone.getByRole('list', { name: 'Contacts found' });
  await eventually(async () => {
    const t = await found.innerText();
    return t.includes('Pat Example · HubSpot') && t.includes('Pat Example · Salesforce');
  }, { what: 'the widget search to list Pat from HubSpot and Salesforce' });

  // The logger's final record carries a recording link and an AI note: both reach the logs.
  const id = await page.evaluate(() => {
    const ring = window.calltrailHost.messages.filter((m) => m.data.type === 'rc-call-ring-notify').at(-1);
    return `rc:${ring.data.call.partyData.sessionId}`;
  });
  for (const vendor of ['hubspot', 'salesforce']) {
    await eventually(async () => {
      const logs = await world.emulator.calls(`calltrail:call|${id}|`);
      const recs = logs.records[vendor] || [];
      const text = recs.map(recordText).join(' ');
      return recs.length === 1 && text.includes('ringcentral-media-reader') && text.includes('quote for 20 seats') ? recs : null;
    }, { what: `${vendor}'s log of ${id} to carry the recording and the AI note` });
  }
  const hs = (await world.emulator.calls(`calltrail:call|${id}|`)).records.hubspot[0];
  assert.match(JSON.stringify(hs.record), /hs_call_recording_url/);
  const view = await callView(world, id);
  assert.equal(view.call.result, 'answered');
  assert.match(view.call.ai_note, /quote for 20 seats/);
  await page.close();
});
