#[daemonic::daemon(enable = "yes")]
fn main() {}
