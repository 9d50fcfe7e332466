//! `sniper sandbox`: only the SANDBOX backend (fake data), until Ctrl-C.

use std::net::SocketAddr;

use crate::command::{CommandError, Doing};
use crate::module_id::ModuleId;

use super::{Fault, Sandbox, Shape};

/// Serves the sandbox on `listen`, every module delayed by `delay_ms`, ETF licensed or not,
/// answering in `shape`.
pub async fn serve(
    listen: SocketAddr,
    delay_ms: u64,
    licensed: bool,
    shape: Shape,
) -> Result<(), CommandError> {
    let sb = Sandbox::start(listen)
        .await
        .doing(|| format!("binding {listen}"))?;
    sb.state.set_licensed(licensed);
    sb.state.set_shape(shape);
    if delay_ms > 0 {
        for m in ModuleId::ALL {
            sb.state.set_fault(
                m,
                Fault {
                    delay_ms: Some(delay_ms),
                    ..Default::default()
                },
            );
        }
    }
    eprintln!(
        "sniper sandbox: SANDBOX backend (fake data) on {}, {} shapes",
        sb.url(),
        shape.as_str()
    );
    tokio::signal::ctrl_c()
        .await
        .doing(|| "waiting for Ctrl-C".into())?;
    Ok(())
}
