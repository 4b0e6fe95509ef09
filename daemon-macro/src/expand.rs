//! The expansion: the detach as the first statement of `fn main`, then the
//! user's main; written from the validated `Options` alone.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Error, Ident, ItemFn, Path, ReturnType, Type, Visibility};

use crate::ast::{Options, Setting, Value};
use crate::attr::{self, Key};
use crate::{fallback, main_fn, valid};

pub(crate) fn daemon(args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        // A function whose body does not parse, as an IDE sees it mid-edit:
        // syn's own error points at the spot.
        Err(error) if main_fn::starts_like_a_function(item.clone()) => {
            return with_error(item, error)
        }
        Err(_) => {
            let error = Error::new(Span::call_site(), "#[daemon] goes on `fn main`");
            return with_error(item, error);
        }
    };
    if let Err(error) = main_fn::is_main(&func) {
        return with_error(item, error);
    }
    let (args, errors) = attr::parse(args);
    match valid::check(args, errors, &func) {
        Ok((options, errors)) => wrap(func, &options, errors),
        Err(errors) => fallback::main(func, errors),
    }
}

/// `fn main` that detaches as `options` say, then calls the user's main,
/// beside the errors of the options that were left out.
fn wrap(mut func: ItemFn, options: &Options, errors: Option<Error>) -> TokenStream {
    let krate = &options.krate;
    let setters: Vec<TokenStream> = options
        .settings
        .iter()
        .map(|setting| setter(krate, setting))
        .collect();
    let vis = std::mem::replace(&mut func.vis, Visibility::Inherited);
    let output = func.sig.output.clone();
    func.sig.ident = format_ident!("__daemonic_main", span = func.sig.ident.span());
    // Lints set on main cover the option values too, which run in the outer one.
    let lints = func
        .attrs
        .iter()
        .filter(|attr| main_fn::is_lint_level(attr));
    let call = match &output {
        ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)) => quote!(__daemonic_main()),
        // An error returned before ready() would otherwise reach only the
        // daemon's stderr, /dev/null by default: the launcher is told it
        // too. Only a `Result` has one; autoref picks the method that says so.
        _ => quote! {
            #[allow(clippy::let_unit_value)]
            let __daemonic_result = __daemonic_main();
            {
                #[allow(unused_imports)]
                use #krate::__private::{ReportErr as _, ReportNothing as _};
                (&#krate::__private::Returned(&__daemonic_result)).report();
            }
            __daemonic_result
        },
    };
    let errors = errors.map(Error::into_compile_error);
    // The user's main is emitted whole, renamed: its outer attributes (such
    // as #[tokio::main], so that a runtime starts only now) stay on it, and
    // its inner ones stay inside its body.
    // `control` first, before every other value: it decides what this run is.
    let start = match &options.control {
        Some(command) => quote! {
            let __daemonic_command = #krate::__private::command(#command);
            let __daemonic_running = #krate::__private::run(
                __daemonic_command,
                #krate::__private::Daemon::new() #(#setters)*
            );
        },
        None => quote! {
            let __daemonic_running = #krate::__private::detach(
                #krate::__private::Daemon::new() #(#setters)*
            );
        },
    };
    quote! {
        #errors
        #(#lints)*
        #vis fn main() #output {
            #start
            #func
            #call
        }
    }
}

/// The builder call of one option: `.method(value)`, spanned at its key.
fn setter(krate: &Path, setting: &Setting) -> TokenStream {
    let method = Ident::new(method(setting.key), setting.span);
    let value = match &setting.value {
        Value::AsWritten(value) => quote!(#value),
        Value::Readiness(readiness, span) => {
            let variant = Ident::new(readiness.variant(), *span);
            quote!(#krate::__private::Readiness::#variant)
        }
        Value::Seconds(value) => {
            // The name, for the run-time error of a value out of range.
            let name = setting.key.name();
            quote!(#krate::__private::seconds(#name, (#value) as f64))
        }
        Value::SignalName(value) => quote!(#krate::__private::signal(#value)),
        Value::AccountId(value) => quote!(#krate::__private::Account::Id(#value)),
    };
    quote!(.#method(#value))
}

/// The `Daemon` builder method an option sets: its own name, but for `ready`.
fn method(key: Key) -> &'static str {
    match key {
        Key::Ready => "readiness",
        other => other.name(),
    }
}

fn with_error(item: TokenStream, error: Error) -> TokenStream {
    let error = error.into_compile_error();
    quote!(#error #item)
}
