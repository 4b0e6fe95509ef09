// The launcher waits for ready(); enable and ready_timeout take expressions.
#[daemonic::daemon(
    ready = "notify",
    ready_timeout = 2 * 5,
    enable = std::env::var_os("NO_SUCH_VARIABLE").is_none(),
)]
fn main() {
    daemonic::status("addr: none");
    daemonic::ready();
}
