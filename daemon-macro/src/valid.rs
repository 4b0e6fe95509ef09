//! Checks made at compile time: literal values, and the shape of the function.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{
    AttrStyle, Attribute, Error, Expr, ExprLit, ExprUnary, Ident, ItemFn, Lit, Path, Signature,
    UnOp, Visibility,
};

use crate::args::{combine, Arg, Key};

/// Checks a literal value; an expression is left to the type checker and to
/// the run-time checks of `Daemon::start`.
pub(crate) fn value(arg: &Arg) -> Result<(), Error> {
    match arg.key {
        Key::Crate => return krate(arg).map(drop),
        Key::Ready => return readiness(arg).map(drop),
        Key::KeepFds => return keep_fds(&arg.value),
        _ => {}
    }
    let name = arg.key.name();
    if let Some(negative) = negative_literal(&arg.value) {
        let expected = match arg.key {
            Key::ReadyTimeout | Key::StopTimeout => "a number of seconds above zero",
            Key::ReloadSignal => "a signal's name or number, such as `reload_signal = \"SIGUSR1\"`",
            Key::Control => "a command",
            Key::Umask => "an integer from 0 to 0o777",
            Key::User | Key::Group => "a name or an id that fits in a u32",
            Key::Enable => "a bool",
            _ => "a path",
        };
        return Err(Error::new_spanned(
            negative,
            format!("{name} takes {expected}"),
        ));
    }
    let Some(lit) = literal(&arg.value) else {
        return Ok(());
    };
    let wrong = |expected: &str| Err(Error::new_spanned(lit, format!("{name} takes {expected}")));
    match (arg.key, lit) {
        (Key::Umask, Lit::Int(int)) => match int.base10_parse::<u32>() {
            Ok(umask) if umask <= 0o777 => Ok(()),
            _ => Err(Error::new_spanned(
                int,
                format!("umask {int} is out of range; the largest is 0o777"),
            )),
        },
        (Key::Umask, _) => wrong("an integer, such as `umask = 0o027`"),
        (Key::Control, Lit::Str(word)) => match word.value().as_str() {
            "start" | "stop" | "status" | "reload" | "restart" | "upgrade" => Ok(()),
            other => Err(Error::new_spanned(
                word,
                format!(
                    "unknown command {other:?}; the commands are start, stop, status, reload, \
                     restart and upgrade"
                ),
            )),
        },
        (Key::Control, _) => wrong(
            "a command: a word, an `Option` of one, or a `daemonic::Control`, such as \
             `control = std::env::args().nth(1)`",
        ),
        (Key::ReloadSignal, Lit::Str(name)) if is_signal_name(&name.value()) => Ok(()),
        (Key::ReloadSignal, Lit::Int(number))
            if number
                .base10_parse::<i32>()
                .is_ok_and(|n| (1..=64).contains(&n)) =>
        {
            Ok(())
        }
        (Key::ReloadSignal, _) => wrong(
            "a signal's name or number, such as `reload_signal = \"SIGUSR1\"` or \
             `reload_signal = 10`",
        ),
        (Key::ReadyTimeout | Key::StopTimeout, Lit::Int(_) | Lit::Float(_)) => {
            let seconds = match lit {
                Lit::Int(int) => int.base10_parse::<f64>(),
                Lit::Float(float) => float.base10_parse::<f64>(),
                _ => unreachable!(),
            };
            // What `Duration` holds, as the run-time check requires.
            match seconds.map(std::time::Duration::try_from_secs_f64) {
                Ok(Ok(duration)) if !duration.is_zero() => Ok(()),
                _ => wrong("a number of seconds above zero"),
            }
        }
        (Key::ReadyTimeout | Key::StopTimeout, _) => {
            wrong(&format!("a number of seconds, such as `{name} = 30`"))
        }
        (_, Lit::Str(text)) if text.value().contains('\0') => Err(Error::new_spanned(
            text,
            format!("{name} contains a NUL byte, which no path or name can hold"),
        )),
        (Key::User | Key::Group, Lit::Str(account)) if account.value().is_empty() => {
            Err(Error::new_spanned(account, format!("{name} is empty")))
        }
        (Key::User | Key::Group, Lit::Str(_)) => Ok(()),
        (Key::User | Key::Group, Lit::Int(id)) => match id.base10_parse::<u32>() {
            Ok(_) => Ok(()),
            Err(_) => wrong("an id that fits in a u32"),
        },
        (Key::User | Key::Group, _) => wrong(&format!(
            "a name or a numeric id, such as `{name} = \"nobody\"` or `{name} = 65534`"
        )),
        (Key::Enable, Lit::Bool(_)) => Ok(()),
        (Key::Enable, _) => {
            wrong("a bool, such as `enable = std::env::args().any(|a| a == \"-d\")`")
        }
        (_, Lit::Str(path)) if path.value().is_empty() => {
            Err(Error::new_spanned(path, format!("{name} is an empty path")))
        }
        (_, Lit::Str(_)) => Ok(()),
        (key, _) => {
            let example = match key {
                Key::Workdir => "/",
                Key::Pidfile => "/run/app.pid",
                Key::Chroot => "/var/empty",
                _ => "/var/log/app.log",
            };
            wrong(&format!("a path, such as `{name} = \"{example}\"`"))
        }
    }
}

/// The signals a daemon is commonly told to reload by, with or without
/// `SIG`, in any case: those every Unix has.
fn is_signal_name(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    [
        "HUP", "INT", "QUIT", "USR1", "USR2", "TERM", "ALRM", "WINCH", "CONT", "TSTP", "TTIN",
        "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "IO", "CHLD",
    ]
    .contains(&name)
}

/// The literal in `value`, through parentheses and the invisible groups
/// that `macro_rules!` wraps around an `$e:expr`.
pub(crate) fn literal(value: &Expr) -> Option<&Lit> {
    match peel(value) {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        _ => None,
    }
}

/// `-LITERAL`, a negative number, which `literal` does not see through.
fn negative_literal(value: &Expr) -> Option<&Expr> {
    match peel(value) {
        negative @ Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) if matches!(peel(expr), Expr::Lit(_)) => Some(negative),
        _ => None,
    }
}

fn peel(mut value: &Expr) -> &Expr {
    loop {
        value = match value {
            Expr::Paren(inner) => &inner.expr,
            Expr::Group(inner) => &inner.expr,
            _ => return value,
        }
    }
}

/// Literal fds in a `keep_fds = [..]` list must be above stderr: 0, 1 and 2
/// are always redirected.
fn keep_fds(value: &Expr) -> Result<(), Error> {
    let Expr::Array(array) = peel(value) else {
        return Ok(());
    };
    for element in &array.elems {
        if let Some(negative) = negative_literal(element) {
            return Err(Error::new_spanned(
                negative,
                "keep_fds takes fds above 2: a negative number is not a file descriptor",
            ));
        }
        if let Some(Lit::Int(fd)) = literal(element) {
            if fd.base10_parse::<i32>().map_or(true, |fd| fd < 3) {
                return Err(Error::new_spanned(
                    fd,
                    "keep_fds takes fds above 2: stdin, stdout and stderr are always \
                     redirected (see stdout and stderr)",
                ));
            }
        }
    }
    Ok(())
}

/// The readiness of `ready = "start"` or `ready = "notify"`, which must be a
/// literal, as `crate` must: it decides what the launcher waits for.
pub(crate) fn readiness(arg: &Arg) -> Result<Ident, Error> {
    if let Some(Lit::Str(mode)) = literal(&arg.value) {
        match mode.value().as_str() {
            "start" => return Ok(Ident::new("Start", mode.span())),
            "notify" => return Ok(Ident::new("Notify", mode.span())),
            _ => {}
        }
    }
    Err(Error::new_spanned(
        &arg.value,
        "ready takes \"start\" (the default) or \"notify\"",
    ))
}

/// The path of the `crate = "..."` option.
pub(crate) fn krate(arg: &Arg) -> Result<Path, Error> {
    match literal(&arg.value) {
        Some(Lit::Str(path)) => path
            .parse_with(Path::parse_mod_style)
            .map_err(|_| Error::new_spanned(path, format!("`{}` is not a path", path.value()))),
        _ => Err(Error::new_spanned(
            &arg.value,
            "crate takes a path in a string, such as `crate = \"::daemonic\"`",
        )),
    }
}

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
pub(crate) fn main_shape(func: &ItemFn) -> Result<(), Error> {
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
