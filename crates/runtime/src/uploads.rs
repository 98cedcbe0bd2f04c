//! Attachments uploaded with an application: checked against the form field (size, kind by
//! content, name), scanned for malware when the installation has a scanner, stored under
//! the applicant's upload key, and moved into the case's documents on submission.

use crate::{Result, Runtime};
use chrono::{DateTime, Duration, Utc};
use rathaus_domain::attachment::{self, safe_file_name, FileRef, Rejection};
use rathaus_domain::Lang;
use rathaus_engine::form::{Field, FieldError, FieldKind};
use rathaus_engine::messages::{msg, Msg};
use rathaus_store::audit::{self, Actor};
use rathaus_store::tenants::Tenant;
use rathaus_store::{new_id, uploads};
use serde_json::json;
use std::future::Future;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Most bytes one application may carry in uploads, over all its file fields.
pub const MAX_BYTES_PER_APPLICATION: i64 = 50 * 1024 * 1024;

/// What a virus scanner says about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// Malware found; the scanner's name for it.
    Infected(String),
}

/// A scanner that could not give a verdict (not reachable, timed out, refused the file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Virenprüfung nicht möglich: {0}")]
pub struct ScanError(pub String);

pub type ScanFuture<'a> = Pin<Box<dyn Future<Output = std::result::Result<Verdict, ScanError>> + Send + 'a>>;

/// The virus-scan hook: every upload passes it before it is stored. An installation plugs
/// in ClamAV ([`ClamAv`]) or its own scanner; without one, uploads are stored marked
/// `unscanned` (and shown so to clerks).
pub trait VirusScanner: Send + Sync {
    /// Its name, for logs and the operations page.
    fn name(&self) -> &'static str;
    fn scan<'a>(&'a self, content: &'a [u8]) -> ScanFuture<'a>;
}

/// Where clamd listens: `tcp://host:port` or `unix:/path/to/clamd.ctl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamAddress {
    Tcp(String),
    Unix(std::path::PathBuf),
}

impl ClamAddress {
    pub fn parse(s: &str) -> std::result::Result<ClamAddress, String> {
        if let Some(rest) = s.strip_prefix("tcp://") {
            let rest = rest.trim_end_matches('/');
            if rest.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()) {
                return Ok(ClamAddress::Tcp(rest.to_string()));
            }
        } else if let Some(path) = s.strip_prefix("unix:") {
            if !path.is_empty() {
                return Ok(ClamAddress::Unix(path.into()));
            }
        }
        Err(format!(
            "„{s}“ ist keine clamd-Adresse: erwartet tcp://HOST:PORT (z. B. tcp://127.0.0.1:3310) oder unix:/PFAD (z. B. unix:/run/clamav/clamd.ctl)"
        ))
    }
}

/// ClamAV's daemon, spoken to with its `INSTREAM` command (the file is streamed; clamd
/// needs no access to our storage).
pub struct ClamAv {
    address: ClamAddress,
    timeout: std::time::Duration,
}

impl ClamAv {
    pub fn new(address: ClamAddress) -> ClamAv {
        ClamAv { address, timeout: std::time::Duration::from_secs(60) }
    }

    async fn instream<S: AsyncRead + AsyncWrite + Unpin>(
        mut stream: S,
        content: &[u8],
    ) -> std::result::Result<Verdict, ScanError> {
        let io = |e: std::io::Error| ScanError(format!("clamd: {e}"));
        stream.write_all(b"zINSTREAM\0").await.map_err(io)?;
        // clamd's default StreamMaxLength is 25 MB; chunks well below its buffer size.
        for chunk in content.chunks(64 * 1024) {
            stream.write_all(&(chunk.len() as u32).to_be_bytes()).await.map_err(io)?;
            stream.write_all(chunk).await.map_err(io)?;
        }
        stream.write_all(&0u32.to_be_bytes()).await.map_err(io)?;
        stream.flush().await.map_err(io)?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 512];
        loop {
            let n = stream.read(&mut buf).await.map_err(io)?;
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&buf[..n]);
            if reply.contains(&0) || reply.len() > 4096 {
                break;
            }
        }
        parse_clamd_reply(&String::from_utf8_lossy(&reply))
    }
}

/// Reads clamd's answer to `INSTREAM`: `stream: OK`, `stream: <name> FOUND` or an error.
fn parse_clamd_reply(reply: &str) -> std::result::Result<Verdict, ScanError> {
    let reply = reply.trim_end_matches(['\0', '\n']).trim();
    let body = reply.strip_prefix("stream:").map(str::trim).unwrap_or(reply);
    if body == "OK" {
        Ok(Verdict::Clean)
    } else if let Some(name) = body.strip_suffix(" FOUND") {
        Ok(Verdict::Infected(name.trim().to_string()))
    } else {
        Err(ScanError(format!("clamd antwortete „{reply}“")))
    }
}

impl VirusScanner for ClamAv {
    fn name(&self) -> &'static str {
        "ClamAV"
    }

    fn scan<'a>(&'a self, content: &'a [u8]) -> ScanFuture<'a> {
        Box::pin(async move {
            let work = async {
                match &self.address {
                    ClamAddress::Tcp(addr) => {
                        let s = tokio::net::TcpStream::connect(addr)
                            .await
                            .map_err(|e| ScanError(format!("clamd unter {addr} nicht erreichbar: {e}")))?;
                        ClamAv::instream(s, content).await
                    }
                    #[cfg(unix)]
                    ClamAddress::Unix(path) => {
                        let s = tokio::net::UnixStream::connect(path)
                            .await
                            .map_err(|e| ScanError(format!("clamd unter {} nicht erreichbar: {e}", path.display())))?;
                        ClamAv::instream(s, content).await
                    }
                    #[cfg(not(unix))]
                    ClamAddress::Unix(_) => Err(ScanError("Unix-Sockets gibt es hier nicht".into())),
                }
            };
            tokio::time::timeout(self.timeout, work)
                .await
                .map_err(|_| ScanError(format!("clamd antwortete nicht binnen {} s", self.timeout.as_secs())))?
        })
    }
}

/// An upload the applicant sends for a file field.
pub struct NewUpload<'a> {
    pub tenant: &'a Tenant,
    pub procedure_id: &'a str,
    pub field: &'a Field,
    pub upload_key: &'a str,
    pub file_name: &'a str,
    pub content: &'a [u8],
    /// The field's files so far (their count and the limit decide whether one more fits).
    pub existing: usize,
    /// Until when an unsubmitted upload is kept (the session's or the draft's expiry).
    pub keep_until: DateTime<Utc>,
    pub lang: Lang,
}

/// Why an upload was not stored: a message for the applicant, naming the field and file.
pub type Refused = FieldError;

/// A file that passed the checks and the scanner: its safe name, kind and scan result.
pub struct Checked {
    pub name: String,
    pub kind: rathaus_domain::attachment::FileType,
    /// `clean` or `unscanned`.
    pub scan: &'static str,
}

/// Where a checked file is stored: the application's upload key and the field it is for.
pub(crate) struct Stored<'a> {
    pub tenant: &'a Tenant,
    pub procedure_id: &'a str,
    pub upload_key: &'a str,
    pub field: &'a str,
}

/// What a file is checked against: the field (or message form) it is for.
pub struct Limits<'a> {
    /// Where an error is reported (the field key).
    pub field: &'a str,
    /// The name people know the field by (errors name it).
    pub label: &'a str,
    pub accept: &'a [rathaus_domain::attachment::FileType],
    pub max_bytes: u64,
}

impl Runtime {
    /// Checks a file (kind by content, name ending, size) and passes it through the virus
    /// scanner; returns what it is, or the reason it is refused (a message naming the field
    /// and the file). Malware found is audited under `object` (type, id).
    pub async fn check_file(
        &self,
        tenant: &Tenant,
        limits: &Limits<'_>,
        file_name: &str,
        content: &[u8],
        object: (&str, &str),
        lang: Lang,
    ) -> Result<std::result::Result<Checked, Refused>> {
        let name = safe_file_name(file_name);
        let refuse = |m: Msg, extra: &[&str]| {
            let mut args = vec![limits.label, name.as_str()];
            args.extend_from_slice(extra);
            Ok(Err(FieldError { field: limits.field.to_string(), message: msg(lang, m, &args) }))
        };
        let or = if lang == Lang::De { "oder" } else { "or" };
        let kind = match attachment::check(&name, content, limits.accept, limits.max_bytes) {
            Ok(k) => k,
            Err(Rejection::Empty) => return refuse(Msg::FileEmpty, &[]),
            Err(Rejection::TooLarge { max_bytes }) => {
                return refuse(Msg::FileTooLarge, &[&(max_bytes / (1024 * 1024)).to_string()])
            }
            Err(Rejection::NotAccepted { found: Some(found) }) => {
                return refuse(Msg::FileIsOtherKind, &[found.label(), &attachment::kinds_label(limits.accept, or)])
            }
            Err(Rejection::NotAccepted { found: None }) => {
                return refuse(Msg::FileWrongKind, &[&attachment::kinds_label(limits.accept, or)])
            }
            Err(Rejection::NameMismatch { content }) => {
                return refuse(Msg::FileNameMismatch, &[content.label(), content.extensions()[0]])
            }
        };
        let scan = match self.scanner.get() {
            None => "unscanned",
            Some(scanner) => match scanner.scan(content).await {
                Ok(Verdict::Clean) => "clean",
                Ok(Verdict::Infected(signature)) => {
                    // Recorded (without the file) so that an administrator sees attempts.
                    let now = self.clock.now();
                    let mut tx = self.store.begin().await?;
                    audit::append(
                        &mut tx,
                        &tenant.tenant_id,
                        &Actor::Applicant,
                        "upload.refused_malware",
                        object.0,
                        object.1,
                        &json!({"field": limits.field, "scanner": scanner.name(), "signature": signature, "size": content.len()}),
                        now,
                    )
                    .await?;
                    tx.commit().await?;
                    tracing::warn!(tenant = %tenant.slug, object = object.1, signature, "upload refused: malware");
                    return refuse(Msg::FileInfected, &[]);
                }
                Err(e) => {
                    tracing::error!(scanner = scanner.name(), error = %e, "virus scan failed; upload refused");
                    return refuse(Msg::FileScanUnavailable, &[]);
                }
            },
        };
        Ok(Ok(Checked { name, kind, scan }))
    }

    /// Checks, scans and stores an upload; returns the reference for the application's data,
    /// or the reason it was refused (a specific message naming the field and the file).
    pub async fn upload(&self, u: NewUpload<'_>) -> Result<std::result::Result<FileRef, Refused>> {
        let field = u.field;
        debug_assert_eq!(field.kind, FieldKind::File);
        let label = field.label.get(u.lang);
        if u.existing >= field.max_items {
            return Ok(Err(FieldError {
                field: field.key.clone(),
                message: msg(u.lang, Msg::TooManyFiles, &[label, &field.max_items.to_string()]),
            }));
        }
        {
            let mut conn = self.store.conn().await?;
            let stored = uploads::bytes_for_key(&mut conn, &u.tenant.tenant_id, u.upload_key).await?;
            if stored + u.content.len() as i64 > MAX_BYTES_PER_APPLICATION {
                let name = safe_file_name(u.file_name);
                let max = (MAX_BYTES_PER_APPLICATION / (1024 * 1024)).to_string();
                return Ok(Err(FieldError {
                    field: field.key.clone(),
                    message: msg(u.lang, Msg::FileTooLarge, &[label, &name, &max]),
                }));
            }
        }
        let limits = Limits { field: &field.key, label, accept: &field.accept, max_bytes: field.max_bytes };
        let Checked { name, kind, scan } = match self
            .check_file(u.tenant, &limits, u.file_name, u.content, ("procedure", u.procedure_id), u.lang)
            .await?
        {
            Ok(c) => c,
            Err(refused) => return Ok(Err(refused)),
        };
        let checked = Checked { name, kind, scan };
        let stored =
            Stored { tenant: u.tenant, procedure_id: u.procedure_id, upload_key: u.upload_key, field: &field.key };
        Ok(Ok(self.store_checked(&stored, checked, u.content, u.keep_until, &Actor::Applicant).await?))
    }

    /// Stores a checked file under its upload key until `keep_until` (at least an hour),
    /// audited as `upload.stored` by `actor`.
    pub(crate) async fn store_checked(
        &self,
        to: &Stored<'_>,
        checked: Checked,
        content: &[u8],
        keep_until: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<FileRef> {
        let Checked { name, kind, scan } = checked;
        let upload_id = new_id();
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let sha256 = uploads::insert(
            &mut tx,
            uploads::NewUpload {
                tenant_id: &to.tenant.tenant_id,
                upload_id: &upload_id,
                upload_key: to.upload_key,
                procedure_id: to.procedure_id,
                field: to.field,
                file_name: &name,
                media_type: kind.media_type(),
                content,
                scan,
                now,
                expires: keep_until.max(now + Duration::hours(1)),
            },
        )
        .await?;
        audit::append(
            &mut tx,
            &to.tenant.tenant_id,
            actor,
            "upload.stored",
            "upload",
            &upload_id,
            &json!({"procedure": to.procedure_id, "field": to.field, "type": kind.code(), "size": content.len(), "sha256": sha256, "scan": scan}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(FileRef { id: upload_id, name, kind, size: content.len() as u64, sha256 })
    }

    /// Removes an upload of the key (the applicant took it back).
    pub async fn remove_upload(&self, tenant_id: &str, upload_key: &str, upload_id: &str) -> Result<bool> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let removed = uploads::delete(&mut tx, tenant_id, upload_key, upload_id).await?;
        if removed {
            audit::append(
                &mut tx,
                tenant_id,
                &Actor::Applicant,
                "upload.removed",
                "upload",
                upload_id,
                &json!({}),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// Deletes the expired uploads of every tenant (never submitted), each tenant's in one
    /// transaction with its audit entry; returns how many.
    pub async fn purge_expired_uploads(&self) -> Result<u64> {
        let now = self.clock.now();
        let tenants = {
            let mut conn = self.store.conn().await?;
            uploads::tenants_with_expired(&mut conn, now).await?
        };
        self.purge_per_tenant(tenants, "uploads.expired", async move |conn, tenant_id| {
            uploads::delete_expired(conn, tenant_id, now).await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamd_answers_are_read_as_verdicts() {
        assert_eq!(parse_clamd_reply("stream: OK\0"), Ok(Verdict::Clean));
        assert_eq!(
            parse_clamd_reply("stream: Win.Test.EICAR_HDB-1 FOUND\0"),
            Ok(Verdict::Infected("Win.Test.EICAR_HDB-1".into()))
        );
        assert!(parse_clamd_reply("INSTREAM size limit exceeded. ERROR\0").is_err());
        assert!(parse_clamd_reply("").is_err());
    }

    #[test]
    fn clamd_addresses_are_tcp_or_unix() {
        assert_eq!(ClamAddress::parse("tcp://127.0.0.1:3310"), Ok(ClamAddress::Tcp("127.0.0.1:3310".into())));
        assert_eq!(
            ClamAddress::parse("unix:/run/clamav/clamd.ctl"),
            Ok(ClamAddress::Unix("/run/clamav/clamd.ctl".into()))
        );
        let e = ClamAddress::parse("127.0.0.1:3310").unwrap_err();
        assert!(e.contains("tcp://HOST:PORT"), "{e}");
        assert!(ClamAddress::parse("tcp://host").is_err());
    }
}
