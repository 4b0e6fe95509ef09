#[daemonic::daemon(workdir = 42)]
fn main() {}
