#[daemonic::daemon]
fn main() {
    let x = ;
}
