//! The attribute's compile-time answers: each bad input in `tests/ui/*.rs`
//! against its `.stderr`, and the accepted forms in `tests/ui/pass/`.
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --test compiletest`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
