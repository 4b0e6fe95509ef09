#[daemonic::daemon(control = std::env::args().nth(1))]
fn main() {}
