//! Nova's cell mapping templates (`cell_mapping.py`, `_format_url`): a
//! `cell_mappings.database_connection` or `transport_url` may hold
//! `{username}`, `{password}`, `{hostname}`, `{port}`, `{scheme}`, `{path}`,
//! `{query}` and `{fragment}`, filled with the parts of the URL nova-api has
//! in its own config (`[database]/connection`, `[DEFAULT]/transport_url`),
//! as Python's `urlparse` and `str.format` would: parts are not decoded, the
//! host name is lower-cased, a missing part prints as `None`. A comma list
//! of nodes (oslo.messaging's `u:p@h1:5672,u:p@h2:5672`) adds `{username1}`,
//! `{hostname1}`, `{port1}`… per node.

use std::collections::HashMap;

/// Why a template could not be filled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template names a key the source URL does not give.
    #[error("the template names {{{0}}}, which Nova does not fill")]
    UnknownKey(String),
    /// A `{` without its `}`, a lone `}`, or a conversion or format spec.
    #[error("the template is not a plain Python format string")]
    Syntax,
    /// The URL the values come from has no `scheme://`.
    #[error("the URL that fills the template has no scheme")]
    NoScheme,
    /// The URL the values come from has a port that is not a number.
    #[error("the URL that fills the template has a bad port")]
    BadPort,
}

/// Whether `url` is a template at all (Nova logs an error when it is and
/// nothing can fill it).
pub fn is_template(url: &str) -> bool {
    url.contains('{')
}

/// `template` filled from `source` (nova-api's own URL), as Nova fills it.
pub fn fill(template: &str, source: &str) -> Result<String, TemplateError> {
    let keys = keys_of(source)?;
    format(template, &keys)
}

/// The substitutions `_format_url` makes of `url`.
fn keys_of(url: &str) -> Result<HashMap<String, String>, TemplateError> {
    let (scheme, rest) = url.split_once("://").ok_or(TemplateError::NoScheme)?;
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (netloc, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    // urlparse: the user info ends at the LAST '@', the host part follows it.
    let (userinfo, hostport) = match netloc.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, netloc),
    };
    let (username, password) = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((u, p)) => (Some(u), Some(p)),
            None => (Some(info), None),
        },
        None => (None, None),
    };
    let (hostname, port) = host_port(hostport)?;
    let mut keys = HashMap::from([
        ("scheme".to_owned(), scheme.to_ascii_lowercase()),
        ("username".to_owned(), python_str(username)),
        ("password".to_owned(), python_str(password)),
        ("hostname".to_owned(), python_str(hostname.as_deref())),
        ("port".to_owned(), python_str(port.as_deref())),
        ("path".to_owned(), path.trim_start_matches('/').to_owned()),
        ("query".to_owned(), query.to_owned()),
        ("fragment".to_owned(), fragment.to_owned()),
    ]);
    if netloc.contains(',') {
        for (index, node) in netloc.split(',').enumerate() {
            let (userpass, hostport) = node.split_once('@').unwrap_or(("", node));
            let (user, pass) = match userpass.split_once(':') {
                Some((u, p)) => (Some(u), Some(p)),
                None => (Some(userpass), None),
            };
            let (host, port) = host_port(hostport)?;
            let n = index + 1;
            keys.insert(format!("username{n}"), python_str(user));
            keys.insert(format!("password{n}"), python_str(pass));
            keys.insert(format!("hostname{n}"), python_str(host.as_deref()));
            keys.insert(format!("port{n}"), python_str(port.as_deref()));
        }
    }
    Ok(keys)
}

/// `[v6]:port`, `host:port` or `host`; the host lower-cased, an empty port
/// none, a port that is not a number an error (as `urlparse().port`).
fn host_port(hostport: &str) -> Result<(Option<String>, Option<String>), TemplateError> {
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or(TemplateError::BadPort)?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    let port = match port.filter(|p| !p.is_empty()) {
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| TemplateError::BadPort)?
                .to_string(),
        ),
        None => None,
    };
    let host = (!host.is_empty()).then(|| host.to_ascii_lowercase());
    Ok((host, port))
}

/// What Python's `str.format` prints for a value that may be `None`.
fn python_str(value: Option<&str>) -> String {
    value.unwrap_or("None").to_owned()
}

/// Python's `str.format` with named fields only: `{{` and `}}` are braces.
fn format(template: &str, keys: &HashMap<String, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) if c.is_ascii_alphanumeric() || c == '_' => name.push(c),
                        _ => return Err(TemplateError::Syntax),
                    }
                }
                let value = keys.get(&name).ok_or(TemplateError::UnknownKey(name))?;
                out.push_str(value);
            }
            '}' => return Err(TemplateError::Syntax),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_as_nova_did_on_this_machine() {
        // The case checked against nova 34's CellMapping (reference, §A).
        let filled = fill(
            "mysql+pymysql://{username}:{password}@{hostname}:{port}/nova_cell1?{query}",
            "mysql+pymysql://nova:s3cret@db.example:3306/nova_api?charset=utf8",
        );
        assert_eq!(
            filled.unwrap(),
            "mysql+pymysql://nova:s3cret@db.example:3306/nova_cell1?charset=utf8"
        );
    }

    #[test]
    fn every_key_and_python_quirks() {
        let source = "MySQL+PyMySQL://u%40x:p@DB.Example/nova_api?charset=utf8#frag";
        let filled = fill(
            "{scheme}|{username}|{password}|{hostname}|{port}|{path}|{query}|{fragment}|{{lit}}",
            source,
        )
        .unwrap();
        // Not decoded, host lower-cased, a missing port prints as None.
        assert_eq!(
            filled,
            "mysql+pymysql|u%40x|p|db.example|None|nova_api|charset=utf8|frag|{lit}"
        );
        assert_eq!(
            fill("{username}:{password}", "postgresql://h/db").unwrap(),
            "None:None"
        );
        assert_eq!(
            fill("[{hostname}]:{port}", "mysql://[::1]:3306/x").unwrap(),
            "[::1]:3306"
        );
    }

    #[test]
    fn node_lists_give_indexed_keys() {
        let source = "rabbit://a:pa@h1:5672,b:pb@h2:5673/vh";
        let filled = fill(
            "rabbit://{username1}:{password1}@{hostname1}:{port1},{username2}@{hostname2}:{port2}/{path}",
            source,
        )
        .unwrap();
        assert_eq!(filled, "rabbit://a:pa@h1:5672,b@h2:5673/vh");
    }

    #[test]
    fn refusals_are_named() {
        let source = "mysql://u:p@h:3306/db";
        assert_eq!(
            fill("{user}", source),
            Err(TemplateError::UnknownKey("user".into()))
        );
        assert_eq!(fill("{port!r}", source), Err(TemplateError::Syntax));
        assert_eq!(fill("{port", source), Err(TemplateError::Syntax));
        assert_eq!(fill("a}b", source), Err(TemplateError::Syntax));
        assert_eq!(
            fill("{port}", "mysql://h:x/db"),
            Err(TemplateError::BadPort)
        );
        assert_eq!(fill("{port}", "no-scheme"), Err(TemplateError::NoScheme));
        // A URL without a template is returned as it is.
        assert_eq!(fill("mysql://a@b/c", source).unwrap(), "mysql://a@b/c");
        assert!(!is_template("mysql://a@b/c"));
    }
}
