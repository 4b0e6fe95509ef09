//! The typed options: what validation builds from the attribute's arguments,
//! and all the expansion reads, so that it never looks at a literal again.

use proc_macro2::Span;
use syn::{Expr, Path};

use crate::attr::Key;

/// The valid options of one `#[daemon(...)]`; a bad one is left out.
pub(crate) struct Options {
    /// Where the expansion finds the library: `crate = "..."`, or `::daemonic`.
    pub(crate) krate: Path,
    /// `control`'s command, evaluated before every other value, as it decides
    /// what this run is; without it, the run starts the daemon.
    pub(crate) control: Option<Expr>,
    /// The builder calls, in the order written: the values are evaluated in
    /// that order, as documented, so they are a list and not one field each.
    pub(crate) settings: Vec<Setting>,
}

/// One option that sets a `Daemon` builder method.
pub(crate) struct Setting {
    pub(crate) key: Key,
    /// The key's span, so that an error in the call points at the option.
    pub(crate) span: Span,
    pub(crate) value: Value,
}

/// A value, typed by what the expansion must wrap it in.
pub(crate) enum Value {
    /// Passed to the builder as written: an expression, or a literal that
    /// validation checked.
    AsWritten(Expr),
    /// `ready = "..."`, with the span of the literal that named it.
    Readiness(Readiness, Span),
    /// `ready_timeout` or `stop_timeout`: seconds in any number type.
    Seconds(Expr),
    /// `reload_signal = "SIGUSR1"`: a signal's name, looked up at run time.
    SignalName(Expr),
    /// `user = 65534` or `group = 65534`: an integer literal, which untyped
    /// would default to i32, while ids are u32.
    AccountId(Expr),
}

/// What `ready` asks the launcher to wait for.
#[derive(Clone, Copy)]
pub(crate) enum Readiness {
    Start,
    Notify,
}

impl Readiness {
    /// Its variant of `daemonic::__private::Readiness`.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Readiness::Start => "Start",
            Readiness::Notify => "Notify",
        }
    }
}
