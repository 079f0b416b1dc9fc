//! Free loopback ports, for servers that take their port as a setting.

use std::io;
use std::net::TcpListener;

/// A port of 127.0.0.1 nothing listens on right now: bound by the kernel's choice, then
/// released. Another process may take it before the caller binds it; callers that can
/// bind port 0 themselves should.
pub fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::free_port;

    #[test]
    fn the_port_can_be_bound() {
        let port = free_port().expect("the loopback interface has free ports");
        assert_ne!(port, 0);
        std::net::TcpListener::bind(("127.0.0.1", port))
            .expect("a port reported free is bindable by the caller");
    }
}
