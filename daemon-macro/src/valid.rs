//! Validation: the raw arguments and `fn main` become the typed `Options`
//! the expansion consumes, or errors, all of them at once and each spanned.

use syn::{Error, Expr, ExprLit, ExprUnary, ItemFn, Lit, Path, UnOp};

use crate::ast::{Options, Readiness, Setting, Value};
use crate::attr::{Arg, Key};
use crate::errors::{combine, list};
use crate::main_fn;

/// The words `control` takes: those of `daemonic::Control::ALL`, in its
/// order, kept in step by hand as the macro does not link the library.
/// `start` is first, the one command that needs no running daemon.
const COMMANDS: [&str; 6] = ["start", "stop", "status", "reload", "restart", "upgrade"];

/// The options to expand, with the errors of those left out; or `Err` with
/// every error when no expansion could be right: then `fn main` is emitted
/// empty beside them (see `fallback`).
pub(crate) fn check(
    args: Vec<Arg>,
    mut errors: Option<Error>,
    func: &ItemFn,
) -> Result<(Options, Option<Error>), Error> {
    let mut krate = None;
    let mut bad_krate = false;
    let mut control = None;
    let mut control_key = None;
    let mut pidfile = false;
    let mut settings = Vec::new();
    // A bad option is left out, not fatal: the rest still expands, so the
    // user sees that one error and the IDE keeps analysing the body.
    for Arg {
        key,
        key_ident,
        value,
    } in args
    {
        let checked = match key {
            Key::Crate => crate_path(&value).map(|path| krate = Some(path)),
            Key::Control => {
                control_key = Some(key_ident);
                check_literal(key, &value).map(|()| control = Some(value))
            }
            _ => {
                pidfile |= key == Key::Pidfile;
                let span = key_ident.span();
                typed_value(key, value).map(|value| settings.push(Setting { key, span, value }))
            }
        };
        if let Err(error) = checked {
            bad_krate |= key == Key::Crate;
            combine(&mut errors, error);
        }
    }
    // Given at all, even with a bad value: it is the pidfile that is missing.
    if let Some(control_key) = control_key.filter(|_| !pidfile) {
        let finders = COMMANDS.into_iter().filter(|command| *command != "start");
        combine(
            &mut errors,
            Error::new_spanned(
                control_key,
                format!(
                    "control needs a pidfile: {} find the daemon by its lock",
                    list(finders)
                ),
            ),
        );
    }
    let shape_ok = main_fn::shape(func)
        .map_err(|error| combine(&mut errors, error))
        .is_ok();
    let options = Options {
        krate: krate.unwrap_or_else(|| syn::parse_quote!(::daemonic)),
        control,
        settings,
    };
    match errors {
        // A `fn main` of the wrong shape cannot be wrapped. And without the
        // path it asked for, the expansion would name `::daemonic`, which a
        // renamed dependency does not have: more errors than the one.
        Some(errors) if bad_krate || !shape_ok => Err(errors),
        errors => Ok((options, errors)),
    }
}

/// Checks a literal value and types it for the expansion; an expression is
/// left to the type checker and to the run-time checks of `Daemon::start`.
fn typed_value(key: Key, value: Expr) -> Result<Value, Error> {
    match key {
        Key::Ready => return readiness(&value),
        Key::KeepFds => return keep_fds(&value).map(|()| Value::AsWritten(value)),
        _ => check_literal(key, &value)?,
    }
    Ok(match (key, literal(&value)) {
        (Key::ReadyTimeout | Key::StopTimeout, _) => Value::Seconds(value),
        (Key::ReloadSignal, Some(Lit::Str(_))) => Value::SignalName(value),
        (Key::User | Key::Group, Some(Lit::Int(_))) => Value::AccountId(value),
        _ => Value::AsWritten(value),
    })
}

/// Checks the value of `key` if it is a literal, a negative number included.
fn check_literal(key: Key, value: &Expr) -> Result<(), Error> {
    let name = key.name();
    if let Some(negative) = negative_literal(value) {
        let expected = match key {
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
    let Some(lit) = literal(value) else {
        return Ok(());
    };
    let wrong = |expected: &str| Err(Error::new_spanned(lit, format!("{name} takes {expected}")));
    match (key, lit) {
        (Key::Umask, Lit::Int(int)) => match int.base10_parse::<u32>() {
            Ok(umask) if umask <= 0o777 => Ok(()),
            _ => Err(Error::new_spanned(
                int,
                format!("umask {int} is out of range; the largest is 0o777"),
            )),
        },
        (Key::Umask, _) => wrong("an integer, such as `umask = 0o027`"),
        (Key::Control, Lit::Str(word)) => match word.value().as_str() {
            command if COMMANDS.contains(&command) => Ok(()),
            other => Err(Error::new_spanned(
                word,
                format!(
                    "unknown command {other:?}; the commands are {}",
                    list(COMMANDS)
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
fn literal(value: &Expr) -> Option<&Lit> {
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
fn readiness(value: &Expr) -> Result<Value, Error> {
    if let Some(Lit::Str(mode)) = literal(value) {
        match mode.value().as_str() {
            "start" => return Ok(Value::Readiness(Readiness::Start, mode.span())),
            "notify" => return Ok(Value::Readiness(Readiness::Notify, mode.span())),
            _ => {}
        }
    }
    Err(Error::new_spanned(
        value,
        "ready takes \"start\" (the default) or \"notify\"",
    ))
}

/// The path of the `crate = "..."` option.
fn crate_path(value: &Expr) -> Result<Path, Error> {
    match literal(value) {
        Some(Lit::Str(path)) => path
            .parse_with(Path::parse_mod_style)
            .map_err(|_| Error::new_spanned(path, format!("`{}` is not a path", path.value()))),
        _ => Err(Error::new_spanned(
            value,
            "crate takes a path in a string, such as `crate = \"::daemonic\"`",
        )),
    }
}
