#[daemonic::daemon]
fn main(args: Vec<String>) {
    drop(args);
}
