//! Issue 12, failure 1, the connection half: about 4,200 slow clients held every connection
//! slot and `/healthz` timed out for the whole attack. Loopback has a whole /8 of addresses,
//! so attackers here come from 127.0.0.2 and 127.0.0.3 while the probes (and Confluence)
//! come from 127.0.0.1: one address can no longer take more than its share, and the slow
//! ones it does get are cut off at the body deadline.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use crate::harness::raw_http::{exchange, read_response};
use crate::harness::*;

/// A connection to the app from a chosen loopback address (`None` if it could not be made).
fn connect_from(from: Ipv4Addr, port: u16) -> Option<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
    socket.bind(&SocketAddr::from((from, 0)).into()).ok()?;
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    socket
        .connect_timeout(&to.into(), Duration::from_secs(2))
        .ok()?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).ok()?;
    Some(stream)
}

/// `GET /healthz` over `stream`; what came back before the server closed it.
fn healthz_over(mut stream: TcpStream) -> String {
    let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

const ATTACKER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const SECOND_ATTACKER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

#[actix_web::test]
async fn one_address_cannot_hold_more_than_its_share_of_connections() {
    let app = spawn_app_with(vec![("MAX_CONNECTIONS_PER_IP", "8".into())]).await;
    let port = app.port;
    let outcome = actix_web::rt::task::spawn_blocking(move || {
        // Eight kept-alive connections, each known to the server (it answered on it).
        let held: Vec<TcpStream> = (0..8)
            .filter_map(|_| {
                let mut stream = connect_from(ATTACKER, port)?;
                stream
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    .ok()?;
                (read_response(&mut stream).status == 200).then_some(stream)
            })
            .collect();
        assert_eq!(held.len(), 8);
        // The ninth from the same address is turned away before its request is read...
        let ninth = healthz_over(connect_from(ATTACKER, port).unwrap());
        // ...while another address is served.
        let other = exchange(
            port,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        drop(held);
        // Once its connections are gone, the address is served again.
        let again = poll(PATIENCE, || {
            let answer = healthz_over(connect_from(ATTACKER, port)?);
            answer.starts_with("HTTP/1.1 200").then_some(answer)
        });
        (ninth, other, again)
    })
    .await
    .unwrap();
    let (ninth, other, again) = outcome;
    assert!(
        ninth.is_empty() || ninth.starts_with("HTTP/1.1 503"),
        "the ninth connection was served: {ninth}"
    );
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");
    assert!(again.is_some(), "the address never got a slot back");
}

#[actix_web::test]
async fn healthz_and_a_signed_install_are_served_while_slow_clients_flood_the_server() {
    // Scaled down from the 4,200 (scripts/abuse.sh runs the full size): 128 slots
    // (64 per worker), 600 slow clients from two addresses.
    let app = spawn_app_with(vec![
        ("MAX_CONNECTIONS", "64".into()),
        ("MAX_CONNECTIONS_PER_IP", "16".into()),
    ])
    .await;
    let port = app.port;
    // Each announces a form body (read before any token check) and never sends it.
    let flood = actix_web::rt::task::spawn_blocking(move || {
        let head = b"POST /api/tasks HTTP/1.1\r\nHost: x\r\n\
            Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\njwt=";
        // Until the server stops taking connections at all (then the attacker has all it can get).
        [ATTACKER, SECOND_ATTACKER]
            .iter()
            .flat_map(|from| (0..300).map_while(|_| connect_from(*from, port)))
            .map(|mut stream| {
                let _ = stream.write_all(head);
                stream
            })
            .collect::<Vec<TcpStream>>()
    })
    .await
    .unwrap();
    assert!(
        flood.len() >= 200,
        "only {} slow clients connected",
        flood.len()
    );
    // While they are all connected: the health check and a real install still get through.
    let health = tokio::time::timeout(
        PATIENCE,
        app.client.get(format!("{}/healthz", app.address)).send(),
    )
    .await
    .expect("/healthz did not answer during the flood")
    .unwrap();
    assert_eq!(health.status(), 200);
    let site = Site::new("during-flood");
    let installed = tokio::time::timeout(PATIENCE, site.install(&app)).await;
    assert!(
        installed.is_ok(),
        "the install did not answer during the flood"
    );
    assert!(stored_secret(&app, &site.client_key).is_some());
    drop(flood);
}
