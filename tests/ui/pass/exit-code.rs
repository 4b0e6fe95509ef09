// Any `Termination` type is returned as it is.
#[daemonic::daemon]
fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
