//! Network namespaces for the partition test (root and iproute2 needed): [`Netns`] creates
//! `ip netns add csNNN` with a veth pair (10.250.N.1 on the host side, 10.250.N.2 inside) and
//! ALWAYS deletes both when dropped, also on panic; before creating, it sweeps `cs*`
//! namespaces whose creating process is gone (a marker file names it). A member runs inside
//! with `ip netns exec csNNN chatseal run`, reaching PostgreSQL and the fake Twitch server
//! through [`Forwarder`]s the test runs in the root namespace on 10.250.N.1, so PostgreSQL's
//! own configuration is never touched. [`Netns::cut`] sets the inner veth down (a real cut:
//! its TCP connections hang), [`Netns::heal`] sets it up again.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Runs `ip args...`; Err names the command and what it said.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("running `ip {}`: {e}; install iproute2", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("`ip {}` failed ({}): {}", args.join(" "), out.status, String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn marker(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("chatseal-netns-{name}.pid"))
}

fn pid_alive(pid: u32) -> bool {
    PathBuf::from(format!("/proc/{pid}")).exists()
}

/// Namespaces named `cs` + digits (ours) that `ip netns list` shows.
pub fn ours() -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.len() > 2 && n.starts_with("cs") && n[2..].chars().all(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

/// Deletes our namespaces (and their host-side veth) whose creator is no longer running.
pub fn sweep_stale() {
    for name in ours() {
        let owner = std::fs::read_to_string(marker(&name)).ok().and_then(|s| s.trim().parse::<u32>().ok());
        if owner.is_some_and(|pid| pid != std::process::id() && pid_alive(pid)) {
            continue;
        }
        if owner == Some(std::process::id()) {
            continue;
        }
        eprintln!("netns: deleting stale namespace {name} (creator {owner:?} gone)");
        let _ = ip(&["link", "del", &format!("{name}h")]);
        let _ = ip(&["netns", "del", &name]);
        let _ = std::fs::remove_file(marker(&name));
    }
}

/// One namespace with its veth pair; deleted on drop.
pub struct Netns {
    pub name: String,
    pub n: u8,
    host_if: String,
    inner_if: String,
}

impl Netns {
    /// Creates the first free `cs` + N (3 digits) for N from `n` (up to `n` + 19), with
    /// 10.250.N.1 (host) / .2 (inside); a number another live test process uses is skipped, never
    /// taken over. Panics with what failed and what to do (root, iproute2) when it cannot, after
    /// deleting what it made.
    pub fn create(n: u8) -> Netns {
        assert!(n > 0 && n < 236, "netns numbers are 1..=235");
        sweep_stale();
        for n in n..n + 20 {
            let name = format!("cs{n:03}");
            if ours().contains(&name) {
                continue;
            }
            // The marker first, so that no sweep (of another test) takes it for a stale one.
            std::fs::write(marker(&name), std::process::id().to_string()).expect("write netns marker");
            // `ip netns add` fails when another process took the name meanwhile: try the next.
            if ip(&["netns", "add", &name]).is_err() {
                continue;
            }
            let ns = Netns { host_if: format!("{name}h"), inner_if: format!("{name}i"), name, n };
            ns.wire();
            return ns;
        }
        panic!("no free test network namespace cs{n:03}..cs{:03}: `ip netns list` shows {:?}; delete stale ones with `ip netns del NAME`", n + 19, ours());
    }

    /// The veth pair and addresses of a namespace just added.
    fn wire(&self) {
        let (host, inner) = (self.host_ip().to_string(), self.inner_ip().to_string());
        let steps: Vec<Vec<String>> = vec![
            vec![
                "link".into(),
                "add".into(),
                self.host_if.clone(),
                "type".into(),
                "veth".into(),
                "peer".into(),
                "name".into(),
                self.inner_if.clone(),
            ],
            vec!["link".into(), "set".into(), self.inner_if.clone(), "netns".into(), self.name.clone()],
            vec!["addr".into(), "add".into(), format!("{host}/24"), "dev".into(), self.host_if.clone()],
            vec!["link".into(), "set".into(), self.host_if.clone(), "up".into()],
            self.inside(&["ip", "addr", "add", &format!("{inner}/24"), "dev", &self.inner_if]),
            self.inside(&["ip", "link", "set", &self.inner_if, "up"]),
            self.inside(&["ip", "link", "set", "lo", "up"]),
        ];
        for step in steps {
            let args: Vec<&str> = step.iter().map(String::as_str).collect();
            if let Err(e) = ip(&args) {
                // The caller's guard does not exist yet: clean up here, then fail.
                let _ = ip(&["netns", "del", &self.name]);
                let _ = ip(&["link", "del", &self.host_if]);
                let _ = std::fs::remove_file(marker(&self.name));
                panic!("creating the test's network namespace {}: {e}; the partition tests need root and iproute2 (apt-get install -y iproute2)", self.name);
            }
        }
    }

    /// `["netns", "exec", name, args...]` as arguments of `ip`.
    fn inside(&self, args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = vec!["netns".into(), "exec".into(), self.name.clone()];
        v.extend(args.iter().map(|a| a.to_string()));
        v
    }

    pub fn host_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 250, self.n, 1)
    }

    pub fn inner_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 250, self.n, 2)
    }

    /// The command prefix that runs a program inside.
    pub fn prefix(&self) -> Vec<String> {
        vec!["ip".into(), "netns".into(), "exec".into(), self.name.clone()]
    }

    /// Cuts the namespace off: its veth goes down, established connections hang.
    pub fn cut(&self) {
        let args = self.inside(&["ip", "link", "set", &self.inner_if, "down"]);
        ip(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap_or_else(|e| panic!("cutting {}: {e}", self.name));
    }

    /// Reconnects it (and restores the address, which stays, and the route, which link-up adds).
    pub fn heal(&self) {
        let args = self.inside(&["ip", "link", "set", &self.inner_if, "up"]);
        ip(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap_or_else(|e| panic!("healing {}: {e}", self.name));
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace deletes the inner end, which deletes the pair; the host end is
        // deleted explicitly too, in case the pair was made but never moved inside.
        let _ = ip(&["netns", "del", &self.name]);
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = std::fs::remove_file(marker(&self.name));
    }
}

/// A TCP forwarder in the root namespace: accepts on `bind` and copies bytes both ways to
/// `target`; stops accepting and drops every connection when dropped.
pub struct Forwarder {
    pub addr: SocketAddr,
    stop: CancellationToken,
}

impl Forwarder {
    pub async fn start(bind: SocketAddr, target: SocketAddr) -> Forwarder {
        let listener = TcpListener::bind(bind).await.unwrap_or_else(|e| panic!("forwarder bind {bind}: {e}"));
        let addr = listener.local_addr().expect("forwarder addr");
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = tokio::select! {
                    _ = token.cancelled() => return,
                    r = listener.accept() => match r { Ok(c) => c, Err(_) => continue },
                };
                let conn_token = token.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = conn_token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
        Forwarder { addr, stop }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A namespace with forwarders to the cluster's PostgreSQL and fake server: a member's place.
pub struct Island {
    pub ns: Netns,
    pub pg: Forwarder,
    pub irc: Forwarder,
}

impl Island {
    /// `store_url` must point at 127.0.0.1:5432 (or any host:port the root namespace reaches).
    pub async fn new(n: u8, store_url: &str, twitch: SocketAddr) -> Island {
        let ns = Netns::create(n);
        let pg_target = pg_addr(store_url);
        let pg = Forwarder::start(SocketAddr::from((ns.host_ip(), 0)), pg_target).await;
        let irc = Forwarder::start(SocketAddr::from((ns.host_ip(), 0)), twitch).await;
        Island { ns, pg, irc }
    }

    /// `store_url` with its host:port replaced by the PostgreSQL forwarder.
    pub fn store_url(&self, store_url: &str) -> String {
        let (scheme, rest) = store_url.split_once("://").expect("store URL has a scheme");
        let (userinfo, hostpath) = match rest.rsplit_once('@') {
            Some((u, h)) => (format!("{u}@"), h),
            None => (String::new(), rest),
        };
        let path = hostpath.find('/').map(|i| &hostpath[i..]).unwrap_or("");
        format!("{scheme}://{userinfo}{}{path}", self.pg.addr)
    }

    pub fn place(&self, store_url: &str) -> super::members::Place {
        super::members::Place {
            prefix: self.ns.prefix(),
            http_ip: self.ns.inner_ip().to_string(),
            store_url: self.store_url(store_url),
            twitch: self.irc.addr,
        }
    }
}

/// host:port of a postgres URL (default port 5432), resolved.
pub fn pg_addr(url: &str) -> SocketAddr {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let hostpath = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
    let hostport = hostpath.split('/').next().unwrap_or("127.0.0.1:5432");
    let hostport = if hostport.contains(':') { hostport.to_owned() } else { format!("{hostport}:5432") };
    use std::net::ToSocketAddrs;
    hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("cannot resolve PostgreSQL at {hostport}"))
}
