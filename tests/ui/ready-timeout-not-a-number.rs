#[daemonic::daemon(ready = "notify", ready_timeout = "5s")]
fn main() {}
