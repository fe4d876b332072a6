//! Who sent a request, as far as Nova's rules care: the user, the project
//! and the roles of the token (Keystone's, a static token's, or noauth's
//! `user:project`). Nova mode scopes lookups by it; the Nova wire carries it
//! as the message's context.

/// The caller of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The token's user id (`None`: a static token without `user_id`).
    pub user_id: Option<String>,
    /// The token's project id (`None`: unscoped, or a static token without
    /// `project_id`). A non-admin caller without a project sees no server.
    pub project_id: Option<String>,
    /// The token's roles.
    pub roles: Vec<String>,
}

impl Caller {
    /// What Nova's `context_is_admin` policy (`role:admin`) says: an admin
    /// sees every project's servers, anyone else only its own project's.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }

    /// An admin with no user or project: for the herald-only paths (its own
    /// directory backends ignore the caller) and tests.
    pub fn admin() -> Self {
        Self {
            user_id: None,
            project_id: None,
            roles: vec!["admin".into()],
        }
    }

    /// The caller noauth mode makes of an `X-Auth-Token`, as Nova's noauth2
    /// middleware read it (until nova 32 removed it): `user:project`, or a
    /// bare `user` that is its own project; admin only when the user is
    /// `admin`, who gets the `admin` role (noauth2 gave no roles, only
    /// `is_admin`). No token at all is the `admin` user: herald's noauth has
    /// always let everyone in as admin.
    pub fn from_noauth_token(token: Option<&str>) -> Self {
        let token = token.filter(|t| !t.is_empty()).unwrap_or("admin");
        let (user, project) = token.split_once(':').unwrap_or((token, token));
        let project = if project.is_empty() { user } else { project };
        let roles = if user == "admin" {
            vec!["admin".to_owned()]
        } else {
            Vec::new()
        };
        Self {
            user_id: Some(user.to_owned()),
            project_id: Some(project.to_owned()),
            roles,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noauth_tokens_read_as_nova_noauth2_did() {
        let c = Caller::from_noauth_token(Some("neutron:service"));
        assert_eq!(c.user_id.as_deref(), Some("neutron"));
        assert_eq!(c.project_id.as_deref(), Some("service"));
        assert!(!c.is_admin());
        let bare = Caller::from_noauth_token(Some("cinder"));
        assert_eq!(bare.project_id.as_deref(), Some("cinder"));
        assert!(Caller::from_noauth_token(Some("admin:p1")).is_admin());
        assert!(Caller::from_noauth_token(Some("admin")).is_admin());
        assert!(Caller::from_noauth_token(None).is_admin());
        assert!(!Caller::from_noauth_token(Some("administrator:p")).is_admin());
    }
}
