// A small SELECT parser shared by Salesforce SOQL and Zoho COQL:
//   SELECT f1, f2, COUNT() FROM Obj [WHERE cond] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST]] [LIMIT n] [OFFSET m]
// cond: comparisons (= != <> < <= > >= LIKE IN NOT IN INCLUDES-free), IS [NOT] NULL, AND/OR/NOT,
// parentheses; literals: 'strings', numbers, true/false/null, date and datetime literals,
// TODAY, YESTERDAY, LAST_N_DAYS:n. Anything else is a parse error with a position.

export class QueryError extends Error {
  constructor(msg, pos) { super(msg); this.pos = pos; }
}

function tokenize(src) {
  const toks = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === "'") {
      let j = i + 1; let s = '';
      while (j < src.length && src[j] !== "'") {
        if (src[j] === '\\' && j + 1 < src.length) { const n = src[j + 1]; s += n === 'n' ? '\n' : n === 't' ? '\t' : n; j += 2; } else { s += src[j]; j++; }
      }
      if (j >= src.length) throw new QueryError('unterminated string literal', i);
      toks.push({ t: 'str', v: s, pos: i }); i = j + 1; continue;
    }
    const two = src.slice(i, i + 2);
    if (['<=', '>=', '!=', '<>'].includes(two)) { toks.push({ t: 'op', v: two === '<>' ? '!=' : two, pos: i }); i += 2; continue; }
    if ('=<>'.includes(c)) { toks.push({ t: 'op', v: c, pos: i }); i++; continue; }
    if ('(),'.includes(c)) { toks.push({ t: c, v: c, pos: i }); i++; continue; }
    const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))|^(\d{4}-\d{2}-\d{2})|^(-?\d+(?:\.\d+)?)|^([A-Za-z_$][\w.$]*(?::\d+)?)/.exec(src.slice(i));
    if (!m) throw new QueryError(`unexpected character '${c}'`, i);
    if (m[1]) toks.push({ t: 'datetime', v: Date.parse(m[1]), pos: i });
    else if (m[2]) toks.push({ t: 'date', v: m[2], pos: i });
    else if (m[3]) toks.push({ t: 'num', v: Number(m[3]), pos: i });
    else toks.push({ t: 'id', v: m[4], pos: i });
    i += m[0].length;
  }
  return toks;
}

export function parseSelect(src) {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const kw = (w) => peek() && peek().t === 'id' && peek().v.toUpperCase() === w;
  const expectKw = (w) => { if (!kw(w)) throw new QueryError(`expecting ${w}, found '${peek() ? peek().v : 'end of query'}'`, peek()?.pos ?? src.length); p++; };
  const ident = () => { const t = peek(); if (!t || t.t !== 'id') throw new QueryError(`expecting a field name, found '${t ? t.v : 'end of query'}'`, t?.pos ?? src.length); p++; return t.v; };

  expectKw('SELECT');
  const fields = [];
  let count = false;
  for (;;) {
    if (kw('COUNT') && toks[p + 1]?.t === '(') {
      p += 2;
      if (peek()?.t === 'id') ident();
      if (peek()?.t !== ')') throw new QueryError('expecting )', peek()?.pos);
      p++;
      count = true;
    } else fields.push(ident());
    if (peek()?.t === ',') { p++; continue; }
    break;
  }
  expectKw('FROM');
  const from = ident();
  let where = null;
  if (kw('WHERE')) { p++; where = parseOr(); }
  const orderBy = [];
  if (kw('ORDER')) {
    p++; expectKw('BY');
    for (;;) {
      const f = ident();
      let dir = 'ASC';
      if (kw('ASC') || kw('DESC')) { dir = peek().v.toUpperCase(); p++; }
      let nulls = null;
      if (kw('NULLS')) { p++; nulls = peek().v.toUpperCase(); p++; }
      orderBy.push({ field: f, dir, nulls });
      if (peek()?.t === ',') { p++; continue; }
      break;
    }
  }
  let limit = null; let offset = null;
  if (kw('LIMIT')) { p++; const t = peek(); if (t?.t !== 'num') throw new QueryError('LIMIT needs a number', t?.pos); limit = t.v; p++; }
  if (kw('OFFSET')) { p++; const t = peek(); if (t?.t !== 'num') throw new QueryError('OFFSET needs a number', t?.pos); offset = t.v; p++; }
  if (p < toks.length) throw new QueryError(`unexpected token '${peek().v}'`, peek().pos);
  return { fields, count, from, where, orderBy, limit, offset };

  function parseOr() {
    let left = parseAnd();
    while (kw('OR')) { p++; left = { op: 'OR', a: left, b: parseAnd() }; }
    return left;
  }
  function parseAnd() {
    let left = parseNot();
    while (kw('AND')) { p++; left = { op: 'AND', a: left, b: parseNot() }; }
    return left;
  }
  function parseNot() {
    if (kw('NOT')) { p++; return { op: 'NOT', a: parseNot() }; }
    if (peek()?.t === '(') { p++; const e = parseOr(); if (peek()?.t !== ')') throw new QueryError('expecting )', peek()?.pos ?? src.length); p++; return e; }
    return parseCmp();
  }
  function literal() {
    const t = peek();
    if (!t) throw new QueryError('expecting a value', src.length);
    p++;
    if (t.t === 'str') return { k: 'str', v: t.v };
    if (t.t === 'num') return { k: 'num', v: t.v };
    if (t.t === 'datetime') return { k: 'ms', v: t.v };
    if (t.t === 'date') return { k: 'date', v: t.v };
    if (t.t === 'id') {
      const u = t.v.toUpperCase();
      if (u === 'NULL') return { k: 'null' };
      if (u === 'TRUE' || u === 'FALSE') return { k: 'bool', v: u === 'TRUE' };
      const day = 86400000;
      const today = new Date(); today.setUTCHours(0, 0, 0, 0);
      if (u === 'TODAY') return { k: 'range', from: today.getTime(), to: today.getTime() + day };
      if (u === 'YESTERDAY') return { k: 'range', from: today.getTime() - day, to: today.getTime() };
      const m = /^LAST_N_DAYS:(\d+)$/.exec(u);
      if (m) return { k: 'range', from: today.getTime() - Number(m[1]) * day, to: Date.now() + 1 };
    }
    throw new QueryError(`unexpected token '${t.v}'`, t.pos);
  }
  function parseCmp() {
    const field = ident();
    if (kw('IS')) {
      p++;
      let neg = false;
      if (kw('NOT')) { neg = true; p++; }
      expectKw('NULL');
      return { op: neg ? 'NOTNULL' : 'ISNULL', field };
    }
    let neg = false;
    if (kw('NOT')) { neg = true; p++; }
    if (kw('IN')) {
      p++;
      if (peek()?.t !== '(') throw new QueryError('IN needs a parenthesised list', peek()?.pos);
      p++;
      const vals = [];
      for (;;) { vals.push(literal()); if (peek()?.t === ',') { p++; continue; } break; }
      if (peek()?.t !== ')') throw new QueryError('expecting )', peek()?.pos);
      p++;
      return { op: neg ? 'NOTIN' : 'IN', field, vals };
    }
    if (kw('LIKE')) { p++; const v = literal(); return neg ? { op: 'NOT', a: { op: 'LIKE', field, v } } : { op: 'LIKE', field, v }; }
    if (neg) throw new QueryError('NOT must be followed by IN or LIKE here', peek()?.pos);
    const t = peek();
    if (!t || t.t !== 'op') throw new QueryError(`expecting an operator after ${field}, found '${t ? t.v : 'end of query'}'`, t?.pos ?? src.length);
    p++;
    return { op: t.v, field, v: literal() };
  }
}

/** Fields a parsed WHERE references (for validation against the object's fields). */
export function whereFields(node, out = []) {
  if (!node) return out;
  if (node.field) out.push(node.field);
  if (node.a) whereFields(node.a, out);
  if (node.b) whereFields(node.b, out);
  return out;
}

function cmp(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

function coerce(val, lit) {
  // returns [left, right] comparable
  if (lit.k === 'ms' || lit.k === 'date') {
    const l = typeof val === 'number' ? val : Date.parse(val);
    const r = lit.k === 'ms' ? lit.v : Date.parse(lit.v + 'T00:00:00Z');
    if (lit.k === 'date' && typeof val === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(val)) return [val, lit.v];
    return [l, r];
  }
  if (lit.k === 'num') return [Number(val), lit.v];
  if (lit.k === 'bool') return [val === true || val === 'true', lit.v];
  return [String(val).toLowerCase(), String(lit.v).toLowerCase()];
}

export function evaluate(node, get) {
  if (!node) return true;
  switch (node.op) {
    case 'AND': return evaluate(node.a, get) && evaluate(node.b, get);
    case 'OR': return evaluate(node.a, get) || evaluate(node.b, get);
    case 'NOT': return !evaluate(node.a, get);
    case 'ISNULL': { const v = get(node.field); return v === null || v === undefined || v === ''; }
    case 'NOTNULL': { const v = get(node.field); return !(v === null || v === undefined || v === ''); }
    case 'IN': case 'NOTIN': {
      const v = get(node.field);
      const hit = v !== null && v !== undefined && node.vals.some((l) => { const [a, b] = coerce(v, l); return a === b; });
      return node.op === 'IN' ? hit : !hit;
    }
    case 'LIKE': {
      const v = get(node.field);
      if (v === null || v === undefined) return false;
      const re = new RegExp('^' + String(node.v.v).replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.') + '$', 'is');
      return re.test(String(v));
    }
    default: {
      const v = get(node.field);
      const lit = node.v;
      if (lit.k === 'null') { const isNull = v === null || v === undefined || v === ''; return node.op === '=' ? isNull : node.op === '!=' ? !isNull : false; }
      if (v === null || v === undefined) return node.op === '!=';
      if (lit.k === 'range') {
        const ms = Date.parse(v);
        const inRange = ms >= lit.from && ms < lit.to;
        if (node.op === '=') return inRange;
        if (node.op === '!=') return !inRange;
        if (node.op === '<') return ms < lit.from;
        if (node.op === '<=') return ms < lit.to;
        if (node.op === '>') return ms >= lit.to;
        if (node.op === '>=') return ms >= lit.from;
        return false;
      }
      const [a, b] = coerce(v, lit);
      const c = cmp(a, b);
      switch (node.op) {
        case '=': return c === 0;
        case '!=': return c !== 0;
        case '<': return c < 0;
        case '<=': return c <= 0;
        case '>': return c > 0;
        case '>=': return c >= 0;
        default: return false;
      }
    }
  }
}

export function sortRecords(list, orderBy, get) {
  if (!orderBy.length) return list;
  return list.sort((x, y) => {
    for (const o of orderBy) {
      const a = get(x, o.field); const b = get(y, o.field);
      const an = a === null || a === undefined; const bn = b === null || b === undefined;
      if (an || bn) {
        if (an && bn) continue;
        const nullsFirst = o.nulls ? o.nulls === 'FIRST' : o.dir === 'ASC';
        return (an ? -1 : 1) * (nullsFirst ? 1 : -1);
      }
      const av = typeof a === 'string' && !Number.isNaN(Date.parse(a)) && /^\d{4}-/.test(a) ? Date.parse(a) : typeof a === 'string' ? a.toLowerCase() : a;
      const bv = typeof b === 'string' && !Number.isNaN(Date.parse(b)) && /^\d{4}-/.test(b) ? Date.parse(b) : typeof b === 'string' ? b.toLowerCase() : b;
      const c = cmp(av, bv);
      if (c) return o.dir === 'DESC' ? -c : c;
    }
    return 0;
  });
}
