#[daemonic::daemon(ready = "notify", ready_timeout = -1)]
fn main() {}
