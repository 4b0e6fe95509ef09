#[tokio::main]
#[daemonic::daemon(workdir = "/")]
async fn main() {
    tokio::task::yield_now().await;
}
