extern crate daemonic as renamed;

#[renamed::daemon(crate = "renamed", umask = 0o027)]
fn main() {}
