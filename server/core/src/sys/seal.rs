//! `sys/seal` and `sys/step-down`.

use crate::{Core, CoreError, Operation, Request, Response};

pub(super) async fn seal(core: &Core, req: &Request) -> Result<Response, CoreError> {
    if req.operation != Operation::Update {
        return Err(CoreError::UnsupportedOperation);
    }
    core.seal().await?;
    Ok(Response::default())
}

pub(super) async fn step_down(core: &Core, req: &Request) -> Result<Response, CoreError> {
    if req.operation != Operation::Update {
        return Err(CoreError::UnsupportedOperation);
    }
    core.cluster().step_down().await?;
    Ok(Response::default())
}
