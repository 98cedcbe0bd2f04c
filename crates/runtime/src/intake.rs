//! Applications that came by post, fax, e-mail, phone or in person, entered by a clerk with
//! the same form as online (Erfassung). The channel, the day of receipt and, for letters and
//! faxes, the scan go with the case; from then on it runs like any other case.
//!
//! The scan is stored like an applicant's upload (under the application's upload key, kept
//! while the clerk fills the form) and attached to the case on submission.

use crate::uploads::{Limits, Stored};
use crate::{Result, Runtime, SubmitRequest, Submitted};
use chrono::{DateTime, NaiveDate, Utc};
use rathaus_domain::attachment::FileType;
use rathaus_domain::Lang;
use rathaus_engine::form::FieldError;
use rathaus_store::audit::Actor;
use rathaus_store::tenants::Tenant;
use serde::{Deserialize, Serialize};

/// The upload field a scan is stored under (no form has a field of that name).
pub const SCAN_FIELD: &str = "_eingang";
/// The largest scan taken: a letter of a few dozen pages at 300 dpi.
pub const SCAN_MAX_BYTES: u64 = 20 * 1024 * 1024;
/// What a scan may be.
pub const SCAN_TYPES: [FileType; 3] = [FileType::Pdf, FileType::Jpeg, FileType::Png];

/// A stored scan, as the clerk's session remembers it until the application is submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRef {
    pub upload_id: String,
    pub sha256: String,
    pub file_name: String,
}

/// What a clerk says about an application that did not come online.
#[derive(Debug, Clone)]
pub struct Intake<'a> {
    /// The day it was received (German calendar), checked with
    /// [`rathaus_domain::case::check_received`].
    pub received_on: NaiveDate,
    /// Who entered it, for the timeline.
    pub clerk_name: &'a str,
    pub scan: Option<&'a ScanRef>,
}

/// The moment an application counts as received: now if it came today, else the start of
/// the day of receipt (German time); only the day is known of a letter.
pub fn received_at(now: DateTime<Utc>, received_on: NaiveDate) -> DateTime<Utc> {
    if received_on >= rathaus_domain::time::german_today(now) {
        now
    } else {
        rathaus_domain::request::german_instant(received_on, 0)
    }
}

impl Runtime {
    /// Checks a scan (kind by content, size, virus scanner) and stores it under the
    /// application's upload key; or the reason it is refused, naming the field `scan`.
    #[allow(clippy::too_many_arguments)]
    pub async fn store_intake_scan(
        &self,
        tenant: &Tenant,
        procedure_id: &str,
        upload_key: &str,
        file_name: &str,
        content: &[u8],
        keep_until: DateTime<Utc>,
        actor: &Actor,
        lang: Lang,
    ) -> Result<std::result::Result<ScanRef, FieldError>> {
        let label = if lang == Lang::De { "Scan des Eingangs" } else { "Scan of what was received" };
        let limits = Limits { field: "scan", label, accept: &SCAN_TYPES, max_bytes: SCAN_MAX_BYTES };
        let checked =
            match self.check_file(tenant, &limits, file_name, content, ("procedure", procedure_id), lang).await? {
                Ok(c) => c,
                Err(refused) => return Ok(Err(refused)),
            };
        let to = Stored { tenant, procedure_id, upload_key, field: SCAN_FIELD };
        let file = self.store_checked(&to, checked, content, keep_until, actor).await?;
        Ok(Ok(ScanRef { upload_id: file.id, sha256: file.sha256, file_name: file.name }))
    }

    /// Submits an application a clerk entered: as [`Runtime::submit`], with the channel of
    /// `req`, received on the intake's day, the scan attached.
    pub async fn submit_intake(&self, req: SubmitRequest<'_>, intake: &Intake<'_>) -> Result<Submitted> {
        self.submit_with(req, Some(intake)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_letter_counts_from_the_start_of_its_day() {
        // Monday 7 December 2026, 10:00 German time.
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
        assert_eq!(received_at(now, NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()), now);
        assert_eq!(
            received_at(now, NaiveDate::from_ymd_opt(2026, 12, 3).unwrap()),
            Utc.with_ymd_and_hms(2026, 12, 2, 23, 0, 0).unwrap()
        );
    }
}
