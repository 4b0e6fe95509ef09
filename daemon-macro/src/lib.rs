//! The `#[daemon]` attribute. Use it through the `daemonic` crate, which documents it.

mod ast;
mod attr;
mod errors;
mod expand;
mod fallback;
mod main_fn;
mod valid;

use proc_macro::TokenStream;

/// Detaches the process before the body of `fn main` runs.
///
/// The options, their types, defaults and when they are evaluated are
/// documented on the `daemonic` crate, which re-exports this attribute:
/// <https://docs.rs/daemonic>.
#[proc_macro_attribute]
pub fn daemon(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::daemon(args.into(), item.into()).into()
}
