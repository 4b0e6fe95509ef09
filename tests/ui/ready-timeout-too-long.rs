#[daemonic::daemon(ready_timeout = 1e30)]
fn main() {}
