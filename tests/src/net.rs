//! Free TCP ports for throwaway servers.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, OnceLock};

/// A TCP port on 127.0.0.1 that was free a moment ago and has not been handed out before in this process
/// (tests run in parallel; the OS may otherwise return a port another test is about to bind).
pub fn free_port() -> u16 {
    let given = given();
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

/// Two consecutive free ports `(p, p + 1)`, neither handed out before in this process (OpenBao's dev server
/// binds its cluster listener on the API port + 1).
pub fn free_port_pair() -> (u16, u16) {
    let given = given();
    for _ in 0..1000 {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("testkit: cannot bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("testkit: local_addr of a bound socket")
            .port();
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        // Probe the neighbour while still holding `port`.
        if TcpListener::bind((Ipv4Addr::LOCALHOST, next)).is_err() {
            continue;
        }
        let mut set = given
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !set.contains(&port) && !set.contains(&next) {
            set.insert(port);
            set.insert(next);
            return (port, next);
        }
    }
    panic!("testkit: no fresh pair of free ports after 1000 attempts");
}

/// Ports already handed out by this process.
fn given() -> &'static Mutex<HashSet<u16>> {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    GIVEN.get_or_init(|| Mutex::new(HashSet::new()))
}
