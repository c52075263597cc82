//! Connections per client address: no single address may hold more than its share of the
//! server's connection slots, so one client (however slowly it talks) cannot keep `/healthz`
//! and real Confluence traffic waiting in the accept queue.
//!
//! Counted from `HttpServer::on_connect`: every accepted connection either gets a
//! [`ConnectionSlot`] in its extensions — released when the connection ends — or, over the
//! cap, a best-effort `503` with `Retry-After` and an immediate shutdown of the socket, before
//! a byte of its request is read. Behind a reverse proxy every client has the proxy's address:
//! there the proxy must limit per client (see the README), and this cap is set off (`0`) or
//! above the proxy's own connection count.

use std::any::Any;
use std::collections::HashMap;
use std::net::{IpAddr, Shutdown};
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;

/// What an over-cap connection is told before it is closed.
const OVER_CAP: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 25\r\nConnection: close\r\n\r\n\
too many connections, wait";

/// Open connections by client address, shared by every worker.
#[derive(Clone)]
pub(crate) struct PerAddressLimit {
    /// At most this many open connections per address; `0` means no limit.
    max: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One admitted connection; dropped (with the connection's extensions) when it ends.
struct ConnectionSlot {
    address: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerAddressLimit {
    /// A limit of `max` open connections per client address (`0`: none).
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            open: Arc::default(),
        }
    }

    /// The `HttpServer::on_connect` hook: admits the connection or turns it away at once.
    pub(crate) fn on_connect(&self, connection: &dyn Any, extensions: &mut Extensions) {
        let Some(stream) = connection.downcast_ref::<TcpStream>() else {
            return;
        };
        let Ok(peer) = stream.peer_addr() else {
            return;
        };
        match self.admit(peer.ip()) {
            Some(slot) => {
                extensions.insert(slot);
            }
            None => {
                // A fresh socket's send buffer is empty: this write does not block or fail
                // in practice, and if it does the client just sees the close.
                let _ = stream.try_write(OVER_CAP);
                let _ = socket2::SockRef::from(stream).shutdown(Shutdown::Both);
                log::debug!("turned away a connection: {} has too many open", peer.ip());
            }
        }
    }

    /// A slot for one more connection from `address`, unless it holds `max` already.
    fn admit(&self, address: IpAddr) -> Option<ConnectionSlot> {
        if self.max == 0 {
            return Some(self.slot(address));
        }
        let mut open = lock(&self.open);
        let count = open.entry(address).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        drop(open);
        Some(self.slot(address))
    }

    fn slot(&self, address: IpAddr) -> ConnectionSlot {
        ConnectionSlot {
            address,
            open: self.open.clone(),
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(count) = open.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

fn lock(open: &Mutex<HashMap<IpAddr, usize>>) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
    open.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_share_and_a_closed_connection_frees_its_slot() {
        let limit = PerAddressLimit::new(2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = limit.admit(a).unwrap();
        let _second = limit.admit(a).unwrap();
        assert!(limit.admit(a).is_none(), "a third from the same address");
        assert!(limit.admit(b).is_some(), "another address is not affected");
        drop(first);
        assert!(limit.admit(a).is_some(), "a slot came free");
    }

    #[test]
    fn zero_means_no_limit_and_nothing_is_counted() {
        let limit = PerAddressLimit::new(0);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let slots: Vec<_> = (0..100).filter_map(|_| limit.admit(a)).collect();
        assert_eq!(slots.len(), 100);
        assert!(lock(&limit.open).is_empty());
    }
}
