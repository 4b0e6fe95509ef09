#[daemonic::daemon]
fn main<T: Default>() {
    let _ = T::default();
}
