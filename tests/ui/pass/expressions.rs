fn workdir() -> std::path::PathBuf {
    std::env::temp_dir()
}

#[daemonic::daemon(
    umask = u32::from_str_radix("027", 8).unwrap(),
    workdir = workdir(),
    stdout = std::env::var("NO_SUCH_VARIABLE").unwrap_or_else(|_| "/dev/null".into()),
)]
fn main() -> Result<(), std::io::Error> {
    Ok(())
}
