//! Hiding credentials in URLs before they are shown (logs, `check-config`).

/// Replaces the password of a `scheme://user:password@host` URL with `***`.
pub fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_password_is_masked() {
        assert_eq!(
            mask_url_password("postgres://bob:hunter2@db:5432/herald"),
            "postgres://bob:***@db:5432/herald"
        );
        assert_eq!(mask_url_password("amqp://bob@h/%2f"), "amqp://bob@h/%2f");
        assert_eq!(
            mask_url_password("var/herald.sqlite3"),
            "var/herald.sqlite3"
        );
    }
}
