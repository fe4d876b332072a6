//! Where a child process listens, read back from the kernel: the TCP
//! sockets in LISTEN state (`/proc/<pid>/net/tcp`) whose inodes are among the
//! process's open descriptors (`/proc/<pid>/fd`). A process bound to port 0
//! is found without a log line to scrape or a port guessed in advance.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};

/// `st` of a listening socket in /proc/net/tcp.
const LISTEN: &str = "0A";

/// The IPv4 addresses `pid` listens on now (none when it has exited).
pub fn listening(pid: u32) -> Vec<SocketAddr> {
    let inodes = socket_inodes(pid);
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            (*state == LISTEN && inodes.contains(*inode)).then(|| parse_local(local))?
        })
        .collect()
}

/// The inodes of the sockets among `pid`'s descriptors (`socket:[N]`).
fn socket_inodes(pid: u32) -> HashSet<String> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_owned(),
            )
        })
        .collect()
}

/// `0100007F:1F90` (the address as the kernel holds it, in network byte
/// order printed as a native number; the port in host order) as 127.0.0.1:8080.
fn parse_local(local: &str) -> Option<SocketAddr> {
    let (ip, port) = local.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddr::from((Ipv4Addr::from(ip.to_ne_bytes()), port)))
}

#[tokio::test]
async fn a_listener_of_this_process_is_found_and_a_closed_one_is_not() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connected = tokio::net::TcpStream::connect(addr).await.unwrap();
    let found = listening(std::process::id());
    assert!(found.contains(&addr), "{addr} not in {found:?}");
    assert!(
        !found.contains(&connected.local_addr().unwrap()),
        "a connected socket is not a listener"
    );
    drop(listener);
    assert!(!listening(std::process::id()).contains(&addr));
}

#[test]
#[cfg(target_endian = "little")]
fn kernel_addresses_are_read_in_its_byte_order() {
    assert_eq!(
        parse_local("0100007F:1F90"),
        Some("127.0.0.1:8080".parse().unwrap())
    );
    assert_eq!(parse_local("nonsense"), None);
}
