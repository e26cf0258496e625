//! TLS for the listeners (rustls, ring provider): loading a PEM certificate and key, making a
//! self-signed certificate for a first run (`palaver-server gen-cert`), and fingerprints.
//!
//! A TLS port refuses a client that speaks plain text with a readable line before closing: the
//! first byte of a TLS connection is always 0x16 (a handshake record), so anything else is a
//! plain client at the wrong port, and it is told so in its own protocol.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The first byte of every TLS connection: a handshake record.
pub const TLS_HANDSHAKE_BYTE: u8 = 0x16;

/// A TLS acceptor for the certificate chain and key in two PEM files.
pub fn load_acceptor(cert: &Path, key: &Path) -> anyhow::Result<(TlsAcceptor, String)> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read the certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a PEM certificate", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "{} holds no certificate", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read the private key {}", key.display()))?;
    let fingerprint = fingerprint(&chain[0]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and key do not belong together")?;
    Ok((TlsAcceptor::from(Arc::new(config)), fingerprint))
}

/// The SHA-256 fingerprint of a certificate as `AB:CD:...`, the form
/// `openssl x509 -noout -fingerprint -sha256` prints, so it can be checked by hand.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A self-signed certificate for `names` (host names or addresses): (certificate PEM, key PEM,
/// fingerprint).
pub fn self_signed(names: &[String]) -> anyhow::Result<(String, String, String)> {
    let certified = rcgen::generate_simple_self_signed(names.to_vec())
        .context("cannot generate a certificate")?;
    let fingerprint = fingerprint(certified.cert.der());
    Ok((
        certified.cert.pem(),
        certified.key_pair.serialize_pem(),
        fingerprint,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_loads_and_its_fingerprint_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, fp) = self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        let (_, loaded) =
            load_acceptor(&dir.path().join("cert.pem"), &dir.path().join("key.pem")).unwrap();
        assert_eq!(loaded, fp);
        assert_eq!(fp.len(), 32 * 3 - 1, "32 bytes as AB: pairs");
        let err = load_acceptor(&dir.path().join("key.pem"), &dir.path().join("key.pem"));
        assert!(err.is_err(), "a key is not a certificate");
    }
}
