#[daemonic::daemon]
unsafe fn main() {}
