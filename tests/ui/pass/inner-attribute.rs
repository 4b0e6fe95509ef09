// An inner attribute stays inside the body it belongs to.
#[daemonic::daemon]
fn main() {
    #![allow(unused_variables)]
    let unused = 1;
}
