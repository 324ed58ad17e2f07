//! Decoding untrusted softphone messages (RingCentral Embeddable's `rc-*` postMessage events and
//! Calltrail's generic protocol) into engine inputs. Issue 5 fills this in.
