//! The TLS path of the chat connection, with a real handshake on loopback: the fake Twitch
//! server speaks TLS with a self-signed certificate for `localhost` made at test time. Trusted
//! through `twitch.tls_ca_file`, the daemon joins and counts chat; without it, the handshake
//! fails on the certificate, the channel backs off and nothing crashes; a CA file that vanished
//! after the configuration was checked stops the start with a configuration error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chatseal::daemon::DaemonError;
use chatseal::exit::Exit;
use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal::twitchsim::{FakeTls, FakeTwitch, FakeTwitchConfig};

use crate::harness::*;

/// A fake Twitch server speaking TLS with a fresh self-signed certificate for `localhost`,
/// and the path of that certificate's PEM file in `dir`.
async fn tls_fake(dir: &Path) -> (FakeTwitch, PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("self-signed certificate");
    let pem = dir.join("fake-twitch-ca.pem");
    std::fs::write(&pem, ck.cert.pem()).expect("write the CA file");
    let tls = FakeTls { cert_chain_der: vec![ck.cert.der().to_vec()], key_der: ck.key_pair.serialize_der() };
    let fake =
        FakeTwitch::start(FakeTwitchConfig { tls: Some(tls), ..Default::default() }).await.expect("fake twitch starts");
    (fake, pem)
}

/// TLS on, to `localhost` (the name in the certificate), an hour-long epoch.
fn tls_env(ca_file: Option<&Path>) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("CHATSEAL__TWITCH__TLS", "true".to_owned()),
        ("CHATSEAL__TWITCH__SERVER", "localhost".to_owned()),
        ("CHATSEAL__EPOCH__LENGTH", "1h".to_owned()),
    ];
    if let Some(path) = ca_file {
        env.push(("CHATSEAL__TWITCH__TLS_CA_FILE", path.display().to_string()));
    }
    env
}

fn as_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_over_tls_with_the_extra_ca_and_counts_chat() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let (fake, ca) = tls_fake(dir.path()).await;
    let env = tls_env(Some(&ca));
    let d = Daemon::start(settings_for(&fake, &url, &["alpha"], &as_refs(&env))).await;
    assert!(fake.wait_joined("alpha", Duration::from_secs(20)).await, "joined over TLS");
    let epoch = (now_ms() / 1000).div_euclid(3600) * 3600;
    let who = Chatter::new("viewer", "42", "Viewer");
    for n in 0..3 {
        let sent = fake.send_raw("alpha", &privmsg("alpha", &who, &format!("tls-msg-{n}"), now_ms(), "hi", None));
        assert_eq!(sent, 1, "one TLS connection is joined to alpha");
    }
    let status_url = format!("{}/v1/status", d.base);
    wait_for("alpha joined in /v1/status", Duration::from_secs(20), || async {
        let (_, status) = get_json(&status_url).await;
        (status["channels"][0]["state"] == "joined").then_some(())
    })
    .await;
    // The PONG to a PING sent after the messages proves the daemon has read them all; the
    // graceful stop then makes them durable.
    fake.send_raw("alpha", "PING :tmi.twitch.tv");
    assert!(fake.wait_for(Duration::from_secs(20), |f| f.pongs_received() >= 1).await, "PONG over TLS");
    assert_eq!(fake.tls_handshake_failures(), 0);
    d.stop().await.expect("graceful stop");
    assert_eq!(message_counts(&url, epoch, "alpha").await, BTreeMap::from([("viewer".to_string(), 3)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_backs_off_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, _ca) = tls_fake(dir.path()).await;
    let env = tls_env(None);
    let d = Daemon::start(settings_for(&fake, &sqlite_url(dir.path()), &["alpha"], &as_refs(&env))).await;
    let status_url = format!("{}/v1/status", d.base);
    let alpha = wait_for("alpha backing off after a rejected certificate", Duration::from_secs(20), || async {
        let (_, status) = get_json(&status_url).await;
        let alpha = status["channels"][0].clone();
        let err = alpha["last_error"].as_str().unwrap_or_default().to_string();
        (alpha["state"] == "backing_off" && err.contains("certificate")).then_some(alpha)
    })
    .await;
    let err = alpha["last_error"].as_str().unwrap_or_default();
    assert!(err.contains("twitch.tls_ca_file"), "the error says what to do: {err}");
    assert!(fake.wait_for(Duration::from_secs(20), |f| f.tls_handshake_failures() >= 2).await, "it retries");
    assert!(fake.joined_channels().is_empty(), "nothing joined without trust");
    let (code, _) = get_json(&format!("{}/healthz", d.base)).await;
    assert_eq!(code, 200, "the daemon lives on");
    d.stop().await.expect("graceful stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_file_gone_at_start_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, ca) = tls_fake(dir.path()).await;
    let env = tls_env(Some(&ca));
    let settings = settings_for(&fake, &sqlite_url(dir.path()), &["alpha"], &as_refs(&env));
    std::fs::remove_file(&ca).expect("remove the CA file after the settings were checked");
    let result = Daemon::start(settings).await.stop().await;
    match result {
        Err(e @ DaemonError::Tls(_)) => {
            assert_eq!(e.exit_code(), Exit::Config);
            assert!(e.to_string().contains(&ca.display().to_string()), "{e}");
        }
        other => panic!("expected a TLS setup error, got {other:?}"),
    }
    assert_eq!(fake.total_connections(), 0, "no connection was attempted");
}
