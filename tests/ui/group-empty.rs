#[daemonic::daemon(user = "nobody", group = "")]
fn main() {}
