#[daemonic::daemon(workdir = "/")]
#[tokio::main]
async fn main() -> std::io::Result<()> {
    tokio::task::yield_now().await;
    Ok(())
}
