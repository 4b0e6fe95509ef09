#[daemonic::daemon(ready = "notify", ready_timeout = 0)]
fn main() {}
