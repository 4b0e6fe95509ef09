#[daemonic::daemon(crate = "not a path")]
fn main() {}
