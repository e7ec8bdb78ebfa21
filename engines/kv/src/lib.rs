//! The kv secrets engine, versions 1 and 2
