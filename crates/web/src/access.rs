//! Access to a case with its access code (portal status page and API), and the constant-time
//! comparison every secret check uses.

use crate::App;
use rathaus_domain::{AccessCode, Reference};
use rathaus_store::cases::{self, Case};
use rathaus_store::tenants::Tenant;
use rathaus_store::StoreError;

/// Compares secrets without revealing by timing how much of them matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) enum Unlock {
    Granted(Box<Case>),
    /// No case with this reference, or the code does not fit: indistinguishable on purpose.
    Denied,
    /// Too many failed attempts for this case recently.
    Limited,
}

impl App {
    /// Checks `code` against the case `reference` of `tenant`. Failed attempts are limited
    /// per case (and per `scope`, e.g. portal or API), against guessing.
    pub(crate) async fn unlock_case(
        &self,
        tenant: &Tenant,
        reference: &Reference,
        code: &AccessCode,
        scope: &str,
    ) -> Result<Unlock, StoreError> {
        let key = format!("{scope}:{}:{}", tenant.tenant_id, reference);
        if !self.limiter.allowed(&key) {
            return Ok(Unlock::Limited);
        }
        let mut conn = self.runtime.store.conn().await?;
        let case = cases::by_reference(&mut conn, &tenant.tenant_id, reference.as_str()).await?;
        let expected = self.runtime.secret_hash("access-code", code.as_str());
        match case {
            Some(c) if constant_time_eq(c.access_code_hash.as_bytes(), expected.as_bytes()) => {
                self.limiter.succeeded(&key);
                Ok(Unlock::Granted(Box::new(c)))
            }
            _ => {
                self.limiter.failed(&key);
                Ok(Unlock::Denied)
            }
        }
    }
}
