#[daemonic::daemon]
fn serve() {}

fn main() {
    serve();
}
