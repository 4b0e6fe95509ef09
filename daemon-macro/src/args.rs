//! Parsing of the attribute's arguments: a comma-separated list of `key = value`.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Error, Expr, Ident, Token};

/// The options the attribute knows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Umask,
    Workdir,
    Pidfile,
    Stdout,
    Stderr,
    Ready,
    ReadyTimeout,
    Enable,
    User,
    Group,
    Chroot,
    KeepFds,
    Control,
    StopTimeout,
    ReloadSignal,
    Crate,
}

impl Key {
    const ALL: [Key; 16] = [
        Key::Umask,
        Key::Workdir,
        Key::Pidfile,
        Key::Stdout,
        Key::Stderr,
        Key::Ready,
        Key::ReadyTimeout,
        Key::Enable,
        Key::User,
        Key::Group,
        Key::Chroot,
        Key::KeepFds,
        Key::Control,
        Key::StopTimeout,
        Key::ReloadSignal,
        Key::Crate,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Key::Umask => "umask",
            Key::Workdir => "workdir",
            Key::Pidfile => "pidfile",
            Key::Stdout => "stdout",
            Key::Stderr => "stderr",
            Key::Ready => "ready",
            Key::ReadyTimeout => "ready_timeout",
            Key::Enable => "enable",
            Key::User => "user",
            Key::Group => "group",
            Key::Chroot => "chroot",
            Key::KeepFds => "keep_fds",
            Key::Control => "control",
            Key::StopTimeout => "stop_timeout",
            Key::ReloadSignal => "reload_signal",
            Key::Crate => "crate",
        }
    }

    /// The `Daemon` builder method the option sets.
    pub(crate) fn method(self) -> &'static str {
        match self {
            Key::Ready => "readiness",
            other => other.name(),
        }
    }
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
        let error = match Key::ALL.into_iter().find(|key| key.name() == name) {
            None => Error::new_spanned(
                &key_ident,
                format!(
                    "unknown option `{name}`; the options are umask, workdir, pidfile, stdout, \
                     stderr, ready, ready_timeout, enable, user, group, chroot, keep_fds, \
                     control, stop_timeout, reload_signal and crate"
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

/// Adds `error` to those gathered so far.
pub(crate) fn combine(errors: &mut Option<Error>, error: Error) {
    match errors {
        Some(errors) => errors.combine(error),
        None => *errors = Some(error),
    }
}
