//! The logging engine: a state machine with no I/O. Issue 3 fills this in.
