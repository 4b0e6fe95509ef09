#[daemonic::daemon(crate = "daemonic<u8>")]
fn main() {}
