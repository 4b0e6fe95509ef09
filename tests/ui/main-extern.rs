#[daemonic::daemon]
extern "C" fn main() {}
