//! Outgoing e-mail: notifications to applicants (a resume link, news on their case). Mails
//! carry no personal data of the application beyond the recipient's address; what a mail
//! points to is behind a link that needs the access code or a secret.
//!
//! Sent by SMTP (`smtps://user:password@host:465` for TLS, `smtp://…:587?tls=required` for
//! STARTTLS, plain `smtp://host:25` only to a relay nearby), or written as `.eml` files into
//! a folder: the demo's default, so that mails can be read without a mail server.

use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("E-Mail-Einstellungen: {0}")]
    Config(String),
    #[error("Empfängeradresse „{0}“ ist ungültig")]
    Recipient(String),
    #[error("E-Mail konnte nicht gesendet werden: {0}")]
    Send(String),
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Directory(PathBuf),
}

pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.transport {
            Transport::Smtp(_) => write!(f, "Mailer(SMTP, from {})", self.from),
            Transport::Directory(d) => write!(f, "Mailer(folder {}, from {})", d.display(), self.from),
        }
    }
}

fn sender(from: &str) -> Result<Mailbox, MailError> {
    from.parse().map_err(|e| MailError::Config(format!("Absender „{from}“ ist keine E-Mail-Adresse ({e})")))
}

impl Mailer {
    /// A mailer sending through the SMTP server of `url`.
    pub fn smtp(url: &str, from: &str) -> Result<Mailer, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| {
                MailError::Config(format!(
                    "SMTP-Adresse ungültig ({e}); erwartet smtps://benutzer:passwort@host:465, smtp://host:587?tls=required oder smtp://host:25"
                ))
            })?
            .timeout(Some(Duration::from_secs(15)))
            .build();
        Ok(Mailer { from: sender(from)?, transport: Transport::Smtp(transport) })
    }

    /// A mailer writing each mail as an `.eml` file into `dir`.
    pub fn directory(dir: PathBuf, from: &str) -> Result<Mailer, MailError> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| MailError::Config(format!("Ordner für E-Mails {} nicht anlegbar: {e}", dir.display())))?;
        Ok(Mailer { from: sender(from)?, transport: Transport::Directory(dir) })
    }

    /// Sends a plain-text mail.
    pub async fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::Recipient(to.to_string()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(text.to_string())
            .map_err(|e| MailError::Send(e.to_string()))?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| MailError::Send(e.to_string())),
            Transport::Directory(dir) => {
                let name =
                    format!("{}-{}.eml", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"), &rathaus_store::new_id()[..8]);
                tokio::fs::write(dir.join(name), message.formatted()).await.map_err(|e| MailError::Send(e.to_string()))
            }
        }
    }
}
