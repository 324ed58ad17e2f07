//! The only module that touches JavaScript.
