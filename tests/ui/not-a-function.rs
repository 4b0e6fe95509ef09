#[daemonic::daemon]
struct Server;

fn main() {}
