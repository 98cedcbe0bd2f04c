//! Pure domain types of Rathaus. Nothing in here performs IO, so every rule can be tested
//! without a database, a clock or a network. Time and randomness come in as arguments.

pub mod attachment;
pub mod calendar;
pub mod camt;
pub mod case;
pub mod consultation;
pub mod deadline;
pub mod delegation;
pub mod girocode;
pub mod i18n;
pub mod iban;
pub mod ids;
pub mod money;
pub mod reconciliation;
pub mod request;
pub mod retention;
pub mod role;
pub mod statistics;
pub mod tenant;
pub mod time;

pub use case::{CaseStatus, Channel, Outcome};
pub use i18n::{Lang, Text};
pub use ids::{AccessCode, Reference};
pub use money::{kassenzeichen, Money};
pub use role::Role;
pub use tenant::{Branding, TenantSettings};
