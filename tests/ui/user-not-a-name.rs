#[daemonic::daemon(user = 1.5)]
fn main() {}
