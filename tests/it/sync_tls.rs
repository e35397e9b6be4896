//! Story: a relay deployed behind TLS is reached with `wss://` (or `https://`), and a
//! certificate the device does not trust is a clear error.
//!
//! The relay serves plain websockets; here, as in a deployment, a TLS front end
//! (a few lines over native-tls, with a certificate made for the test) forwards to it.
//! The devices are the `aftercall` command line, told to trust the test certificate
//! through OpenSSL's `SSL_CERT_FILE`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::aftercall_bin;
use crate::sync_support::Relay;

/// A key and a self-signed certificate for `localhost` and 127.0.0.1, as PEM.
fn self_signed() -> (Vec<u8>, Vec<u8>) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::{X509NameBuilder, X509};

    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "localhost").unwrap();
    let name = name.build();
    let mut cert = X509::builder().unwrap();
    cert.set_version(2).unwrap();
    let serial = BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap();
    cert.set_serial_number(&serial).unwrap();
    cert.set_subject_name(&name).unwrap();
    cert.set_issuer_name(&name).unwrap();
    cert.set_pubkey(&key).unwrap();
    cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    cert.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .build(&cert.x509v3_context(None, None))
        .unwrap();
    cert.append_extension(san).unwrap();
    cert.sign(&key, MessageDigest::sha256()).unwrap();
    (
        cert.build().to_pem().unwrap(),
        key.private_key_to_pem_pkcs8().unwrap(),
    )
}

/// A TLS front end on 127.0.0.1 (port 0) forwarding each connection to `relay`.
async fn tls_front(relay: SocketAddr, cert: &[u8], key: &[u8]) -> SocketAddr {
    let identity = native_tls::Identity::from_pkcs8(cert, key).unwrap();
    let acceptor =
        tokio_native_tls::TlsAcceptor::from(native_tls::TlsAcceptor::new(identity).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(relay).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    addr
}

/// `aftercall --data-dir DIR ARGS…` trusting only the certificates in `trust`.
async fn aftercall_trusting(trust: &Path, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(aftercall_bin());
    cmd.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("AFTERCALL_DATA_DIR")
        .env("SSL_CERT_FILE", trust)
        .env_remove("SSL_CERT_DIR");
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_behind_tls_syncs_over_wss_and_an_untrusted_certificate_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let relay = Relay::start(home.path());
    let (cert, key) = self_signed();
    let trusted = home.path().join("relay-cert.pem");
    std::fs::write(&trusted, &cert).unwrap();
    let front = tls_front(relay.addr, &cert, &key).await;
    let wss = format!("wss://localhost:{}", front.port());
    let (phone, laptop) = (home.path().join("phone"), home.path().join("laptop"));

    let init = aftercall_trusting(&trusted, &phone, &["init", "--relay", &wss]).await;
    assert!(init.status.success(), "{}", text(&init));
    assert!(
        text(&init).contains("The account is ready on the relay"),
        "{}",
        text(&init)
    );
    let phrase = crate::support::phrase_after(&text(&init), "Your recovery phrase");
    let capture = aftercall_trusting(
        &trusted,
        &phone,
        &["capture", "--with", "Tessa Tls", "--talked", "certificates"],
    )
    .await;
    assert!(capture.status.success(), "{}", text(&capture));
    let synced = aftercall_trusting(&trusted, &phone, &["sync"]).await;
    assert!(synced.status.success(), "{}", text(&synced));

    // A device that does not trust the certificate gets a clear error and pairs with nothing.
    let untrusted = home.path().join("nothing-trusted.pem");
    std::fs::write(&untrusted, "").unwrap();
    let refused = aftercall_trusting(
        &untrusted,
        &laptop,
        &["pair", "--relay", &wss, "--phrase", &phrase],
    )
    .await;
    assert!(!refused.status.success());
    let said = text(&refused).to_lowercase();
    assert!(said.contains("certificate"), "{said}");

    // Trusting it, the same device pairs over https:// (read as wss://) and has the note.
    let https = format!("https://localhost:{}", front.port());
    let paired = aftercall_trusting(
        &trusted,
        &laptop,
        &["pair", "--relay", &https, "--phrase", &phrase],
    )
    .await;
    assert!(paired.status.success(), "{}", text(&paired));
    let diary = aftercall_trusting(&trusted, &laptop, &["diary", "Tessa Tls"]).await;
    assert!(text(&diary).contains("certificates"), "{}", text(&diary));
    relay.stop().await;
}
