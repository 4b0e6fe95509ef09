// A `Result` under another name still has its error sent to the launcher.
type AppResult = Result<(), Box<dyn std::error::Error>>;

#[daemonic::daemon]
fn main() -> AppResult {
    Ok(())
}
