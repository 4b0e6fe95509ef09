#[daemonic::daemon(umask = 0o7777, stdout = "", colour = true)]
fn main() {}
