//! Where `herald load`'s token comes from: `--token` as given, or one that
//! Keystone issues for the `--os-*` password credentials (serve in keystone
//! mode validates it, and caches it, like any caller's).

use std::time::Duration;

use super::{LoadArgs, LoadError};
use crate::keystone::client::{Client, Credentials};
use crate::tls::ClientTls;

/// How long the token request may take.
const ISSUE_TIMEOUT: Duration = Duration::from_secs(30);

/// The X-Auth-Token to send, if any.
pub async fn token(args: &LoadArgs) -> Result<Option<String>, LoadError> {
    let Some(url) = &args.os_auth_url else {
        return Ok(args.token.clone());
    };
    let missing = |flag: &'static str| LoadError::Flag {
        flag,
        reason: "is required with --os-auth-url".into(),
    };
    let credentials = Credentials {
        username: args.os_username.clone().ok_or(missing("--os-username"))?,
        password: args.os_password.clone().ok_or(missing("--os-password"))?,
        user_domain_name: args.os_user_domain_name.clone(),
        project_name: args
            .os_project_name
            .clone()
            .ok_or(missing("--os-project-name"))?,
        project_domain_name: args.os_project_domain_name.clone(),
    };
    let keystone_error = |source| LoadError::Keystone {
        url: url.clone(),
        source,
    };
    // An https Keystone is verified against the system's roots.
    let issued = Client::new(url, ISSUE_TIMEOUT, &ClientTls::system_roots())
        .map_err(keystone_error)?
        .issue(&credentials)
        .await
        .map_err(keystone_error)?;
    tracing::info!(expires_at = %issued.expires_at, "Keystone issued the load token");
    Ok(Some(issued.token))
}
