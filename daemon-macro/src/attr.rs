//! Parsing of the attribute's arguments into a raw list: each `key = value`
//! with its key known and given once, the value not yet looked at.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Error, Expr, Ident, Token};

use crate::errors::{combine, list};

/// Declares `Key`, `Key::ALL` and `Key::name` from one list, so that a key
/// cannot be added to one of them and forgotten in another.
macro_rules! keys {
    ($($key:ident = $name:literal,)*) => {
        /// The options the attribute knows.
        #[derive(Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Key {
            $($key,)*
        }

        impl Key {
            /// Every key, in the order the documentation lists them, which is
            /// the order the messages list them in too.
            pub(crate) const ALL: &'static [Key] = &[$(Key::$key,)*];

            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Key::$key => $name,)*
                }
            }
        }
    };
}

keys! {
    Umask = "umask",
    Workdir = "workdir",
    Pidfile = "pidfile",
    Stdout = "stdout",
    Stderr = "stderr",
    Ready = "ready",
    ReadyTimeout = "ready_timeout",
    Enable = "enable",
    User = "user",
    Group = "group",
    Chroot = "chroot",
    KeepFds = "keep_fds",
    Control = "control",
    StopTimeout = "stop_timeout",
    ReloadSignal = "reload_signal",
    Crate = "crate",
}

/// One `key = value`, the key known and given once.
pub(crate) struct Arg {
    pub(crate) key: Key,
    pub(crate) key_ident: Ident,
    pub(crate) value: Expr,
}

struct RawArg {
    key: Ident,
    value: Expr,
}

impl Parse for RawArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        // `crate` is a keyword, so keys are read as any identifier.
        let key = input.call(Ident::parse_any)?;
        if input.peek(Token![::]) {
            // `umask::x = 1`: a path is not an option name, and saying that
            // it needs a value would send the user the wrong way.
            let mut path = key.to_token_stream();
            let mut name = key.to_string();
            while input.peek(Token![::]) {
                input.parse::<Token![::]>()?.to_tokens(&mut path);
                let segment = input.call(Ident::parse_any)?;
                name.push_str(&format!("::{segment}"));
                segment.to_tokens(&mut path);
            }
            return Err(Error::new_spanned(
                path,
                format!(
                    "`{name}` is not an option: an option is one word, such as `umask = 0o027`"
                ),
            ));
        }
        if !input.peek(Token![=]) {
            return Err(Error::new_spanned(
                &key,
                format!("`{key}` needs a value: `{key} = ...`"),
            ));
        }
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(RawArg { key, value })
    }
}

/// The known arguments, and the errors of the others; one bad argument does
/// not hide the good ones, so the expansion can still use them.
pub(crate) fn parse(tokens: TokenStream) -> (Vec<Arg>, Option<Error>) {
    let raw = match Punctuated::<RawArg, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(raw) => raw,
        Err(error) => return (Vec::new(), Some(error)),
    };
    let mut args: Vec<Arg> = Vec::new();
    let mut errors = None;
    for RawArg {
        key: key_ident,
        value,
    } in raw
    {
        let name = key_ident.unraw().to_string();
        let error = match Key::ALL.iter().copied().find(|key| key.name() == name) {
            None => Error::new_spanned(
                &key_ident,
                format!(
                    "unknown option `{name}`; the options are {}",
                    list(Key::ALL.iter().map(|key| key.name()))
                ),
            ),
            Some(key) if args.iter().any(|arg| arg.key == key) => {
                Error::new_spanned(&key_ident, format!("`{name}` is given twice"))
            }
            Some(key) => {
                args.push(Arg {
                    key,
                    key_ident,
                    value,
                });
                continue;
            }
        };
        combine(&mut errors, error);
    }
    (args, errors)
}
