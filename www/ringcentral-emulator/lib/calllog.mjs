// Call log: GET /account/~/call-log, /account/~/extension/{id}/call-log, single records, and
// call-log-sync (FSync/ISync). Shapes: CallLogRecord, CallLogResponse, CallLogSyncResponse and the
// Read*/Sync* parameter definitions of the API reference; guide/voice/call-log/{api,sync,details}.
//
// Records become visible after a lag (config.callLogLagMs, per record). Each visible version gets
// a change number; an ISync returns the records whose change number is above the one its token
// was issued at, so a record that changes (a recording attached later, an admin patch, a deletion)
// comes back in the next ISync.

import { b64j, badParam, clone, iso, parseTime, rcError, unb64j } from './util.mjs';

const ISYNC_MAX = 250; // guide/voice/call-log/sync
const MISSED_RESULTS = new Set(['Missed', 'Voicemail', 'Hang Up', 'Abandoned']);

export class CallLog {
  constructor(emu) { this.emu = emu; this.reset(); }

  reset() {
    this.records = new Map(); // id -> {data (visible version or null), seq, startMs, owners:Set, accountId}
    this.pending = []; // [{at, id, data}] versions not yet visible, by `at`
    this.seq = 0;
    this.epoch = (this.epoch ?? 0) + 1; // bumping it invalidates sync tokens (CLG-101)
  }

  /** Queue a version of a record (full data) to become visible at `at` (emulator ms). */
  stage(id, data, at, { accountId, owners, startMs }) {
    if (!this.records.has(id)) this.records.set(id, { id, data: null, seq: 0, startMs, owners: new Set(owners), accountId });
    else {
      const r = this.records.get(id);
      for (const o of owners || []) r.owners.add(o);
    }
    this.pending.push({ at, id, data });
    this.pending.sort((a, b) => a.at - b.at);
  }

  /** Make every version whose time has come visible, in time order, each with a new change number. */
  materialize() {
    const now = this.emu.now();
    while (this.pending.length && this.pending[0].at <= now) {
      const p = this.pending.shift();
      const r = this.records.get(p.id);
      r.data = { ...p.data, lastModifiedTime: iso(Math.max(p.at, Date.parse(p.data.lastModifiedTime || 0) || 0)) };
      r.seq = ++this.seq;
    }
  }

  /** Visible records for an account, optionally only those of one extension. */
  visible(accountId, extensionId) {
    this.materialize();
    const out = [];
    for (const r of this.records.values()) {
      if (!r.data || r.accountId !== accountId) continue;
      if (extensionId && !r.owners.has(extensionId)) continue;
      out.push(r);
    }
    return out.sort((a, b) => b.startMs - a.startMs || (a.id < b.id ? 1 : -1));
  }

  // --------------------------------------------------------------- output shapes
  render(r, { view, extensionId, base }) {
    const d = clone(r.data);
    const scope = extensionId ? `account/${r.accountId}/extension/${extensionId}` : `account/${r.accountId}`;
    d.uri = `${base}/restapi/v1.0/${scope}/call-log/${r.id}?view=${view}`;
    if (view !== 'Detailed') delete d.legs;
    const ordered = { uri: d.uri, id: r.id };
    for (const [k, v] of Object.entries(d)) if (!(k in ordered)) ordered[k] = v;
    return ordered;
  }

  scopeOf(ctx) {
    const acc = ctx.params.accountId === '~' ? ctx.auth.accountId : ctx.params.accountId;
    if (acc !== ctx.auth.accountId) return { error: rcError(403, 'CMN-404', 'Attempt to access another extension') };
    if (ctx.params.extensionId === undefined) {
      // The company call log needs the admin's FullCompanyCallLog permission (API reference).
      if (!ctx.auth.extension.admin) return { error: permissionError('FullCompanyCallLog') };
      return { accountId: acc, extensionId: null };
    }
    const ext = ctx.params.extensionId === '~' ? ctx.auth.extensionId : ctx.params.extensionId;
    const e = this.emu.dir.extension(ext);
    if (!e || e.accountId !== acc) return { error: rcError(404, 'CMN-102', 'Resource for parameter [extensionId] is not found', { parameterName: 'extensionId' }) };
    if (ext !== ctx.auth.extensionId && !ctx.auth.extension.admin) return { error: rcError(403, 'CMN-404', 'Attempt to access another extension') };
    return { accountId: acc, extensionId: ext };
  }

  // --------------------------------------------------------------- GET call-log
  list(ctx) {
    const sc = this.scopeOf(ctx);
    if (sc.error) return sc.error;
    const q = ctx.query;
    const view = q.get('view') ?? 'Simple';
    if (!['Simple', 'Detailed'].includes(view)) return badParam('view');
    const now = this.emu.now();
    const dateTo = parseTime(q.get('dateTo'));
    if (Number.isNaN(dateTo)) return badParam('dateTo');
    const to = dateTo ?? now;
    const dateFrom = parseTime(q.get('dateFrom'));
    if (Number.isNaN(dateFrom)) return badParam('dateFrom');
    const from = dateFrom ?? to - 24 * 3600 * 1000; // "default value is dateTo minus 24 hours"
    let perPage = q.get('perPage') ?? '100';
    if (perPage === 'max') perPage = 1000;
    perPage = Number(perPage);
    if (!Number.isInteger(perPage) || perPage < 1) return badParam('perPage');
    perPage = Math.min(perPage, 1000);
    const page = Number(q.get('page') ?? 1);
    if (!Number.isInteger(page) || page < 1) return badParam('page');
    const directions = q.getAll('direction');
    const types = q.getAll('type');
    const sessionId = q.get('sessionId');
    const tsid = q.get('telephonySessionId');
    const phone = q.get('phoneNumber');
    const extNum = q.get('extensionNumber');
    const recType = q.get('recordingType');
    const showDeleted = q.get('showDeleted') === 'true';
    if (sessionId && (tsid || phone)) return rcError(400, 'CLG-110', `Parameter [sessionId] is not allowed for usage along with parameter [${tsid ? 'telephonySessionId' : 'phoneNumber'}]`);
    const digitsOf = (s) => String(s ?? '').replace(/\D/g, '');
    const all = this.visible(sc.accountId, sc.extensionId).filter((r) => {
      const d = r.data;
      if (d.deleted && !showDeleted) return false;
      if (r.startMs < from || r.startMs > to) return false;
      if (directions.length && !directions.includes(d.direction)) return false;
      if (types.length && !types.includes(d.type)) return false;
      if (sessionId && d.sessionId !== sessionId) return false;
      if (tsid && d.telephonySessionId !== tsid) return false;
      if (phone && digitsOf(d.from?.phoneNumber) !== digitsOf(phone) && digitsOf(d.to?.phoneNumber) !== digitsOf(phone)) return false;
      if (extNum && d.from?.extensionNumber !== extNum && d.to?.extensionNumber !== extNum) return false;
      if (recType && !(d.recording && (recType === 'All' || d.recording.type === recType))) return false;
      return true;
    });
    const start = (page - 1) * perPage;
    const slice = all.slice(start, start + perPage);
    const base = this.emu.baseUrl;
    const scopePath = sc.extensionId ? `account/${sc.accountId}/extension/${sc.extensionId}` : `account/${sc.accountId}`;
    const pageUri = (p) => {
      const u = new URL(`${base}/restapi/v1.0/${scopePath}/call-log`);
      for (const [k, v] of q) if (k !== 'page' && k !== 'access_token') u.searchParams.append(k, v);
      u.searchParams.set('page', String(p));
      u.searchParams.set('perPage', String(perPage));
      return u.href;
    };
    // As in the documented examples: page/perPage/pageStart/pageEnd (totals "may be omitted"),
    // navigation with firstPage, plus nextPage/previousPage where they exist.
    const paging = { page, perPage };
    if (slice.length) { paging.pageStart = start; paging.pageEnd = start + slice.length - 1; }
    const navigation = { firstPage: { uri: pageUri(1) } };
    if (start + perPage < all.length) navigation.nextPage = { uri: pageUri(page + 1) };
    if (page > 1) navigation.previousPage = { uri: pageUri(page - 1) };
    return {
      status: 200,
      body: {
        uri: pageUri(page),
        records: slice.map((r) => this.render(r, { view, extensionId: sc.extensionId, base })),
        paging,
        navigation,
      },
    };
  }

  getOne(ctx) {
    const sc = this.scopeOf(ctx);
    if (sc.error) return sc.error;
    const view = ctx.query.get('view') ?? 'Simple';
    if (!['Simple', 'Detailed'].includes(view)) return badParam('view');
    const ids = ctx.params.recordId.split(',');
    const vis = new Map(this.visible(sc.accountId, sc.extensionId).map((r) => [r.id, r]));
    const notFound = () => rcError(404, 'CMN-102', 'Resource for parameter [callRecordId] is not found', { parameterName: 'callRecordId' });
    if (ids.length === 1) {
      const r = vis.get(ids[0]);
      return r ? { status: 200, body: this.render(r, { view, extensionId: sc.extensionId, base: this.emu.baseUrl }) } : notFound();
    }
    // Several ids: 207 with one part per id (the API reference's batch answer); JSON parts here.
    return {
      status: 207,
      body: ids.map((id) => {
        const r = vis.get(id);
        return r ? { status: 200, body: this.render(r, { view, extensionId: sc.extensionId, base: this.emu.baseUrl }) } : { status: 404, body: notFound().body };
      }),
    };
  }

  // --------------------------------------------------------------- call-log-sync
  sync(ctx) {
    const sc = this.scopeOf(ctx);
    if (sc.error) return sc.error;
    const q = ctx.query;
    const syncType = q.get('syncType') ?? 'FSync';
    if (!['FSync', 'ISync'].includes(syncType)) return badParam('syncType');
    const view = q.get('view') ?? 'Simple';
    if (!['Simple', 'Detailed'].includes(view)) return badParam('view');
    const groups = q.getAll('statusGroup');
    for (const g of groups) if (!['Missed', 'All'].includes(g)) return badParam('statusGroup');
    const rcRaw = q.get('recordCount');
    let recordCount = null;
    if (rcRaw !== null) {
      recordCount = Number(rcRaw);
      if (!Number.isInteger(recordCount) || recordCount < 1) return badParam('recordCount');
      recordCount = Math.min(recordCount, ISYNC_MAX);
    }
    const now = this.emu.now();
    const base = this.emu.baseUrl;
    const scopeKey = `${sc.accountId}/${sc.extensionId ?? '*'}`;
    const scopePath = sc.extensionId ? `account/${sc.accountId}/extension/${sc.extensionId}` : `account/${sc.accountId}`;
    const uri = new URL(`${base}/restapi/v1.0/${scopePath}/call-log-sync`);
    for (const [k, v] of q) if (k !== 'access_token') uri.searchParams.append(k, v);

    let frame;
    let records;
    let olderExist;
    if (syncType === 'FSync') {
      if (recordCount === null) return badParam('recordCount', 'Parameter [recordCount] is required for FSync');
      const dateFrom = parseTime(q.get('dateFrom'));
      if (Number.isNaN(dateFrom)) return badParam('dateFrom');
      // "The range is limited to the last 30 days from the current moment": clamped here.
      const from = dateFrom === null ? null : Math.max(dateFrom, now - 30 * 24 * 3600 * 1000);
      frame = { scope: scopeKey, missed: groups.includes('Missed') && !groups.includes('All'), from };
      const cand = this.inFrame(sc, frame);
      records = cand.slice(0, recordCount);
      olderExist = cand.length > records.length;
      frame.oldest = records.length ? records[records.length - 1].startMs : null;
    } else {
      const raw = q.get('syncToken');
      if (!raw) return badParam('syncToken', 'Parameter [syncToken] is required for ISync');
      const tok = raw.startsWith('rcemu.') ? unb64j(raw.slice(6)) : null;
      if (!tok || tok.scope !== scopeKey) return badParam('syncToken');
      if (tok.epoch !== this.epoch) return rcError(400, 'CLG-101', 'Parameter [syncToken] is invalid [Sync token expired, call log was reset]', { parameterName: 'syncToken' });
      frame = { scope: tok.scope, missed: tok.missed, from: tok.from, oldest: tok.oldest };
      const cand = this.inFrame(sc, frame, { includeDeleted: q.get('showDeleted') === 'true' });
      // The frame's lower edge: dateFrom of the FSync, else the oldest record synced so far.
      const lower = frame.from ?? frame.oldest;
      const fresh = cand.filter((r) => r.seq > tok.seq && (lower === null || r.startMs >= lower));
      if (fresh.length > ISYNC_MAX) {
        return rcError(400, 'CMN-101', 'Parameter [syncToken] is invalid [max sync record number limit is exceeded]', { parameterName: 'syncToken' });
      }
      records = fresh;
      // recordCount on ISync extends the frame into the past; fresh records have priority.
      const room = Math.min(recordCount ?? 0, ISYNC_MAX - fresh.length);
      const older = frame.oldest === null ? [] : cand.filter((r) => r.startMs < frame.oldest && !fresh.includes(r));
      const extra = older.slice(0, room);
      records = [...fresh, ...extra].sort((a, b) => b.startMs - a.startMs);
      if (extra.length) frame.oldest = extra[extra.length - 1].startMs;
      olderExist = frame.oldest === null ? false : cand.some((r) => r.startMs < frame.oldest);
    }
    const token = 'rcemu.' + b64j({ v: 1, ...frame, seq: this.seq, epoch: this.epoch });
    return {
      status: 200,
      body: {
        uri: uri.href,
        records: records.map((r) => this.render(r, { view, extensionId: sc.extensionId, base })),
        syncInfo: { syncType, syncToken: token, syncTime: iso(now), olderRecordsExist: olderExist },
      },
    };
  }

  inFrame(sc, frame, { includeDeleted = false } = {}) {
    return this.visible(sc.accountId, sc.extensionId).filter((r) => {
      if (r.data.deleted && !includeDeleted) return false;
      if (frame.from !== null && frame.from !== undefined && r.startMs < frame.from) return false;
      if (frame.missed && !MISSED_RESULTS.has(r.data.result)) return false;
      return true;
    });
  }
}

function permissionError(name) {
  return rcError(403, 'CMN-408', `[${name}] permission required`, { permissionName: name });
}
