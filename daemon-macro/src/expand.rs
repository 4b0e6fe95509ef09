//! The expansion: the detach as the first statement of `fn main`, then the user's main.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Error, Ident, ItemFn, Lit, ReturnType, Type, Visibility};

use crate::args::{self, combine, Key};
use crate::{fallback, valid};

pub(crate) fn daemon(args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        // A function whose body does not parse, as an IDE sees it mid-edit:
        // syn's own error points at the spot.
        Err(error) if valid::starts_like_a_function(item.clone()) => {
            return with_error(item, error)
        }
        Err(_) => {
            let error = Error::new(Span::call_site(), "#[daemon] goes on `fn main`");
            return with_error(item, error);
        }
    };
    if let Err(error) = valid::is_main(&func) {
        return with_error(item, error);
    }
    let (args, mut errors) = args::parse(args);
    let mut krate = None;
    let mut bad_krate = false;
    let mut control = None;
    let mut setters = Vec::new();
    for arg in &args {
        let checked = valid::value(arg).map(|()| match arg.key {
            Key::Crate => krate = Some(valid::krate(arg).expect("validated")),
            Key::Control => control = Some(arg),
            _ => setters.push(arg),
        });
        if let Err(error) = checked {
            bad_krate |= arg.key == Key::Crate;
            combine(&mut errors, error);
        }
    }
    if let Some(control) = args.iter().find(|arg| arg.key == Key::Control) {
        if !args.iter().any(|arg| arg.key == Key::Pidfile) {
            combine(
                &mut errors,
                Error::new_spanned(
                    &control.key_ident,
                    "control needs a pidfile: stop, status, reload and restart find the daemon \
                     by its lock",
                ),
            );
        }
    }
    if let Err(error) = valid::main_shape(&func) {
        combine(&mut errors, error);
        return fallback::main(func, errors.expect("just combined"));
    }
    // Without the path it asked for, the expansion would name `::daemonic`,
    // which a renamed dependency does not have: more errors than the one.
    if bad_krate {
        return fallback::main(func, errors.expect("just combined"));
    }

    // A bad option is left out, not fatal: the rest still expands, so the
    // user sees that one error and the IDE keeps analysing the body.
    let krate = krate.unwrap_or_else(|| syn::parse_quote!(::daemonic));
    let setters = setters.iter().map(|arg| {
        let method = Ident::new(arg.key.method(), arg.key_ident.span());
        let value = &arg.value;
        let value = match arg.key {
            Key::Ready => {
                let readiness = valid::readiness(arg).expect("validated");
                quote!(#krate::__private::Readiness::#readiness)
            }
            Key::ReadyTimeout => {
                quote!(#krate::__private::seconds("ready_timeout", (#value) as f64))
            }
            Key::StopTimeout => quote!(#krate::__private::seconds("stop_timeout", (#value) as f64)),
            Key::ReloadSignal if matches!(valid::literal(value), Some(Lit::Str(_))) => {
                quote!(#krate::__private::signal(#value))
            }
            // An untyped integer literal would default to i32; ids are u32.
            Key::User | Key::Group if matches!(valid::literal(value), Some(Lit::Int(_))) => {
                quote!(#krate::__private::Account::Id(#value))
            }
            _ => quote!(#value),
        };
        quote!(.#method(#value))
    });
    let mut func = func;
    let vis = std::mem::replace(&mut func.vis, Visibility::Inherited);
    let output = func.sig.output.clone();
    func.sig.ident = format_ident!("__daemonic_main", span = func.sig.ident.span());
    // Lints set on main cover the option values too, which run in the outer one.
    let lints = func.attrs.iter().filter(|attr| valid::is_lint_level(attr));
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
    let start = match control {
        Some(arg) => {
            let value = &arg.value;
            quote! {
                let __daemonic_command = #krate::__private::command(#value);
                let __daemonic_running = #krate::__private::run(
                    __daemonic_command,
                    #krate::__private::Daemon::new() #(#setters)*
                );
            }
        }
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

fn with_error(item: TokenStream, error: Error) -> TokenStream {
    let error = error.into_compile_error();
    quote!(#error #item)
}
