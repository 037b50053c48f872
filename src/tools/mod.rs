//! Author tools beyond serving: `check` (and later chat, export, graph).

pub mod check;
