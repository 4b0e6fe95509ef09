#[daemonic::daemon]
const fn main() {}
