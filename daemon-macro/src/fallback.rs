//! What is emitted when `fn main` itself is wrong: the error, the user's
//! function kept under another name so the IDE still sees its body, and an
//! empty `fn main` so that the error is the only one.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Error, ItemFn};

use crate::main_fn;

pub(crate) fn main(mut func: ItemFn, error: Error) -> TokenStream {
    // A second #[daemon] was reported already; left on, it would report the
    // renamed function too.
    func.attrs.retain(|attr| !main_fn::is_named(attr, "daemon"));
    func.sig.ident = format_ident!("__daemonic_main", span = func.sig.ident.span());
    let error = error.into_compile_error();
    quote! {
        #error
        #[allow(dead_code)]
        #func
        fn main() {}
    }
}
