//! Checks on the function under the attribute: that it is `fn main`, of a
//! shape the expansion can wrap, and what its attributes ask for.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{AttrStyle, Attribute, Error, ItemFn, Signature, Visibility};

use crate::errors::combine;

/// Whether the function is `fn main` at all; anything else is left as it is.
pub(crate) fn is_main(func: &ItemFn) -> Result<(), Error> {
    if func.sig.ident.unraw() == "main" {
        Ok(())
    } else {
        Err(Error::new_spanned(
            &func.sig.ident,
            "#[daemon] goes on `fn main`; elsewhere, call `daemonic::Daemon::start`",
        ))
    }
}

/// Checks the signature and the attributes stacked on `fn main`.
pub(crate) fn shape(func: &ItemFn) -> Result<(), Error> {
    let mut errors = None;
    let sig = &func.sig;
    if !sig.inputs.is_empty() || sig.variadic.is_some() {
        let mut arguments = sig.inputs.to_token_stream();
        sig.variadic.to_tokens(&mut arguments);
        combine(
            &mut errors,
            Error::new_spanned(
                arguments,
                "`fn main` takes no arguments; read them with `std::env::args()`",
            ),
        );
    }
    // `Generics` prints without its where clause, so span that separately.
    if !sig.generics.params.is_empty() {
        combine(
            &mut errors,
            Error::new_spanned(&sig.generics, "`fn main` cannot be generic"),
        );
    } else if let Some(where_clause) = &sig.generics.where_clause {
        combine(
            &mut errors,
            Error::new_spanned(where_clause, "`fn main` cannot have a where clause"),
        );
    }
    let qualifiers = [
        sig.constness
            .as_ref()
            .map(|t| Error::new_spanned(t, "`fn main` cannot be const")),
        match &sig.safety {
            syn::Safety::Default => None,
            other => Some(Error::new_spanned(other, "`fn main` cannot be unsafe")),
        },
        sig.abi
            .as_ref()
            .map(|abi| Error::new_spanned(abi, "`fn main` cannot be extern")),
    ];
    for error in qualifiers.into_iter().flatten() {
        combine(&mut errors, error);
    }
    if let Some(asyncness) = &sig.asyncness {
        // The runtime attribute must be below this one, so that it wraps only
        // the user's body and the runtime starts after the detach.
        if !func.attrs.iter().any(|attr| is_named(attr, "main")) {
            combine(
                &mut errors,
                Error::new_spanned(
                    asyncness,
                    "`async fn main` needs a runtime attribute below #[daemon], such as \
                     #[tokio::main]",
                ),
            );
        }
    }
    if let Some(again) = func.attrs.iter().find(|attr| is_named(attr, "daemon")) {
        combine(
            &mut errors,
            Error::new_spanned(again, "#[daemon] is given twice"),
        );
    }
    errors.map_or(Ok(()), Err)
}

/// Whether the attribute's last path segment is `name`, as in `#[tokio::main]`
/// for `main`: macros are seen before name resolution, by their spelling.
pub(crate) fn is_named(attr: &Attribute, name: &str) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == name)
}

/// Whether the attribute is an outer one that sets lint levels: `allow`, `warn`, `deny` or
/// `forbid`. (`expect` is left out: unfulfilled on one of the two functions,
/// it would warn.)
pub(crate) fn is_lint_level(attr: &Attribute) -> bool {
    matches!(attr.style, AttrStyle::Outer)
        && ["allow", "warn", "deny", "forbid"]
            .iter()
            .any(|level| attr.path().is_ident(level))
}

/// Whether the tokens begin like a function (attributes, visibility and a
/// signature), whatever follows.
pub(crate) fn starts_like_a_function(item: TokenStream) -> bool {
    let prefix = |input: ParseStream| {
        input.call(Attribute::parse_outer)?;
        input.parse::<Visibility>()?;
        input.parse::<Signature>()?;
        input.parse::<TokenStream>()
    };
    prefix.parse2(item).is_ok()
}
