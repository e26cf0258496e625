//! TLS for clients: certificates verified against the system's roots, or, for a server with a
//! self-signed certificate, pinned on first use by fingerprint, as SSH does with known_hosts.
//!
//! The first connection to `host:port` whose certificate the system does not trust records the
//! certificate's SHA-256 fingerprint in the known-hosts file and reports it
//! ([`Trust::PinnedNow`]) so the app can show it for the user to compare with the one
//! `palaver-server gen-cert` printed. Later connections must present the same certificate; a
//! different one is refused ([`ConnectionError::CertificateChanged`](crate::ConnectionError)),
//! never accepted silently. The handshake's signatures are always checked.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{DigitallySignedStruct, SignatureScheme};

/// How to connect with TLS.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// Where pinned fingerprints are kept (default: `$PALAVER_KNOWN_HOSTS`, else
    /// `~/.config/palaver/known_hosts`).
    pub known_hosts: PathBuf,
}

impl Default for TlsSettings {
    fn default() -> Self {
        if let Some(file) = std::env::var_os("PALAVER_KNOWN_HOSTS") {
            return TlsSettings {
                known_hosts: file.into(),
            };
        }
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .unwrap_or_else(|| PathBuf::from("."));
        TlsSettings {
            known_hosts: base.join("palaver").join("known_hosts"),
        }
    }
}

/// Why the connection's certificate was trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// A certificate authority the system trusts vouches for it.
    Verified,
    /// Its fingerprint matches the one pinned earlier.
    Pinned { fingerprint: String },
    /// First connection: its fingerprint has just been pinned. Show it to the user.
    PinnedNow { fingerprint: String, file: PathBuf },
}

/// A refusal the verifier decided (the TLS error alone would not say which).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Changed {
    pub expected: String,
    pub got: String,
}

/// SHA-256 of a certificate as `AB:CD:...` (what `openssl x509 -fingerprint -sha256` prints).
pub fn fingerprint(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The pinned fingerprint for `host`, if any.
pub fn pinned(file: &Path, host: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(h, _)| *h == host)
        .map(|(_, fp)| fp.trim().to_string())
}

fn pin(file: &Path, host: &str, fingerprint: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    writeln!(f, "{host} {fingerprint}")
}

/// The verifier: system roots first, then the pin.
#[derive(Debug)]
pub(crate) struct PinningVerifier {
    roots: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    known_hosts: PathBuf,
    /// `host:port`, the key in known_hosts.
    host: String,
    pub(crate) outcome: Mutex<Option<Result<Trust, Changed>>>,
}

impl PinningVerifier {
    pub(crate) fn new(settings: &TlsSettings, host: String, provider: Arc<CryptoProvider>) -> Self {
        let mut store = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = store.add(cert);
        }
        let roots = (!store.is_empty())
            .then(|| {
                WebPkiServerVerifier::builder_with_provider(Arc::new(store), Arc::clone(&provider))
                    .build()
                    .ok()
            })
            .flatten();
        PinningVerifier {
            roots,
            provider,
            known_hosts: settings.known_hosts.clone(),
            host,
            outcome: Mutex::new(None),
        }
    }

    fn record(&self, outcome: Result<Trust, Changed>) {
        *self.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            if roots
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .is_ok()
            {
                self.record(Ok(Trust::Verified));
                return Ok(ServerCertVerified::assertion());
            }
        }
        let got = fingerprint(end_entity);
        match pinned(&self.known_hosts, &self.host) {
            Some(expected) if expected == got => {
                self.record(Ok(Trust::Pinned { fingerprint: got }));
                Ok(ServerCertVerified::assertion())
            }
            Some(expected) => {
                self.record(Err(Changed { expected, got }));
                Err(rustls::Error::General(
                    "the server's certificate changed since it was pinned".into(),
                ))
            }
            None => {
                pin(&self.known_hosts, &self.host, &got).map_err(|e| {
                    rustls::Error::General(format!("cannot pin the certificate: {e}"))
                })?;
                self.record(Ok(Trust::PinnedNow {
                    fingerprint: got,
                    file: self.known_hosts.clone(),
                }));
                Ok(ServerCertVerified::assertion())
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
