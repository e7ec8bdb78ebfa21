//! Free TCP ports for throwaway servers.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, OnceLock};

/// A TCP port on 127.0.0.1 that was free a moment ago and has not been handed out before in this process
/// (tests run in parallel; the OS may otherwise return a port another test is about to bind).
pub fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(|| Mutex::new(HashSet::new()));
    for _ in 0..1000 {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("testkit: cannot bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("testkit: local_addr of a bound socket")
            .port();
        let mut set = given
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if set.insert(port) {
            return port;
        }
    }
    panic!("testkit: no fresh free port after 1000 attempts");
}
