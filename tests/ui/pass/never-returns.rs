// A main that never returns adds no unreachable code after it.
#![deny(unreachable_code)]

#[daemonic::daemon]
fn main() -> ! {
    std::process::exit(0)
}
