//! The engine of Rathaus: everything that makes a procedure run, without IO.
//!
//! - [`library`]: procedure folders (procedure.toml, BPMN, DMN, form.json, catalogues,
//!   templates), loaded and validated with file and line for every problem.
//! - [`bpmn`] + [`executor`]: BPMN 2.0 import and a token-based executor that returns effects.
//! - [`dmn`] + [`feel`]: decisions and expressions through dsntk.
//! - [`form`]: the form schema and validation of application data.
//! - [`assistant`]: the expected outcome of an application while it is filled in.

pub mod assistant;
pub mod bpmn;
pub mod catalogue;
pub mod connectors;
pub mod describe;
pub mod dmn;
pub mod environment;
pub mod executor;
pub mod feel;
pub mod form;
pub mod library;
pub mod messages;
pub mod outbound;
pub mod participants;
pub mod related;
pub mod summary;
pub mod table;
pub mod tck;

pub use catalogue::Catalogue;
pub use executor::{Effect, Instance, InstanceStatus};
pub use form::{FieldError, FormSchema};
pub use library::{Library, Problem, Procedure};
