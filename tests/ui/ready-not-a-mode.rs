#[daemonic::daemon(ready = "listening")]
fn main() {}
