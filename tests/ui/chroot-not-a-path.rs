#[daemonic::daemon(chroot = true)]
fn main() {}
