#[daemonic::daemon]
fn main()
where
    u8: Copy,
{
}
