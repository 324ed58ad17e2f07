// Per-realm user directory: the CRM users tokens are bound to, records are owned by and the
// consent page signs in as. Ids are in the vendor's own format (the vendor module supplies
// `makeId`); everything else is a plain {id, name, firstName, lastName, email, active, ...extra}.

export class UserDirectory {
  /** @param {(seq:number, input:object) => object} makeIds returns {id, ...vendor extras} for a new user */
  constructor(realmKey, makeIds) {
    this.realmKey = realmKey;
    this.makeIds = makeIds;
    this.users = new Map();
    this.seq = 0;
    this.currentId = null;
    this.defaultId = null;
  }

  reset(defaults = []) {
    this.users = new Map();
    this.seq = 0;
    this.currentId = null;
    this.defaultId = null;
    for (const u of defaults) this.add(u);
  }

  /** Add (or replace, when the id exists) a user; returns it. */
  add(input) {
    if (!input || typeof input !== 'object') throw Object.assign(new Error('each user must be an object'), { status: 400 });
    this.seq++;
    const made = this.makeIds(this.seq, input);
    const id = input.id !== undefined && input.id !== null ? String(input.id) : String(made.id);
    const name = input.name || [input.firstName, input.lastName].filter(Boolean).join(' ') || `User ${this.seq}`;
    const [first, ...rest] = name.split(' ');
    const user = {
      ...made,
      ...input,
      id,
      name,
      firstName: input.firstName ?? first,
      lastName: input.lastName ?? (rest.join(' ') || null),
      email: input.email ?? `user${this.seq}@example.com`,
      active: input.active ?? true,
      createdMs: Date.now(),
    };
    if (user.email && [...this.users.values()].some((u) => u.id !== id && String(u.email).toLowerCase() === String(user.email).toLowerCase())) {
      throw Object.assign(new Error(`a user with email ${user.email} already exists in ${this.realmKey}`), { status: 400 });
    }
    this.users.set(id, user);
    if (this.defaultId === null) this.defaultId = id;
    return user;
  }

  get(id) { return id === null || id === undefined ? null : this.users.get(String(id)) || null; }
  byEmail(email) {
    if (!email) return null;
    const e = String(email).toLowerCase();
    for (const u of this.users.values()) if (String(u.email).toLowerCase() === e) return u;
    return null;
  }
  /** A user by id or email. */
  resolve(ref) { return this.get(ref) || this.byEmail(ref); }
  list() { return [...this.users.values()]; }
  /** The user the consent page signs in as unless the request says otherwise. */
  current() { return this.get(this.currentId) || this.get(this.defaultId); }
  setCurrent(ref) {
    const u = this.resolve(ref);
    if (!u) throw Object.assign(new Error(`no user ${ref} in ${this.realmKey}`), { status: 400 });
    this.currentId = u.id;
    return u;
  }
  default() { return this.get(this.defaultId); }
}

/** A user for admin output (internal fields dropped). */
export function publicUser(u) {
  if (!u) return null;
  const { createdMs, ...rest } = u;
  return rest;
}
