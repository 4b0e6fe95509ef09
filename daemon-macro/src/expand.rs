//! The expansion: the detach as the first statement of `fn main`, then the user's main.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Error, Ident, ItemFn, Lit};

use crate::args::{self, combine, Key};
use crate::{fallback, valid};

pub(crate) fn daemon(args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
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
    let mut setters = Vec::new();
    for arg in &args {
        let checked = valid::value(arg).map(|()| match arg.key {
            Key::Crate => krate = Some(valid::krate(arg).expect("validated")),
            _ => setters.push(arg),
        });
        if let Err(error) = checked {
            combine(&mut errors, error);
        }
    }
    if let Err(error) = valid::main_shape(&func) {
        combine(&mut errors, error);
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
            Key::ReadyTimeout => quote!(#krate::__private::seconds((#value) as f64)),
            // An untyped integer literal would default to i32; ids are u32.
            Key::User | Key::Group if matches!(valid::literal(value), Some(Lit::Int(_))) => {
                quote!(#krate::__private::Account::Id(#value))
            }
            _ => quote!(#value),
        };
        quote!(.#method(#value))
    });
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
        ..
    } = func;
    let output = sig.output.clone();
    sig.ident = format_ident!("__daemonic_main");
    // An error returned before ready() would otherwise reach only the
    // daemon's stderr, /dev/null by default: the launcher is told it too.
    let call = if valid::returns_result(&sig) {
        quote!(#krate::__private::main_returned(__daemonic_main()))
    } else {
        quote!(__daemonic_main())
    };
    let errors = errors.map(Error::into_compile_error);
    quote! {
        #errors
        #vis fn main() #output {
            let __daemonic_running = #krate::__private::detach(
                #krate::__private::Daemon::new() #(#setters)*
            );
            // The user's main, with the attributes stacked below #[daemon]
            // (such as #[tokio::main]), so that a runtime starts only now.
            #(#attrs)*
            #sig #block
            #call
        }
    }
}

fn with_error(item: TokenStream, error: Error) -> TokenStream {
    let error = error.into_compile_error();
    quote!(#error #item)
}
