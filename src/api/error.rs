//! Every whole-request refusal of the API as one typed error, and the one
//! place that decides its HTTP status and `WWW-Authenticate` on a 401. The
//! fault itself ([`Fault`]) adds what follows from the status alone: `Allow`
//! on a 405, `Retry-After` on a 503. The message is the fault body's; the
//! source, where there is one, is logged, never sent.

use http::{HeaderValue, Response, StatusCode, header};

use super::auth::Denied;
use crate::directory::DirectoryError;
use crate::microversion::VersionError;
use crate::support::error_chain::error_chain;
use crate::web::Body;
use crate::web::fault::Fault;

/// Why a request as a whole is refused.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body, a path segment or a query parameter is not what the route
    /// takes; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// The body could not be read off the connection.
    #[error("The request body could not be read.")]
    BodyRead(#[source] hyper::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("{}", Fault::method_not_allowed(.0).message)]
    MethodNotAllowed(&'static str),
    #[error(transparent)]
    Version(#[from] VersionError),
    #[error("Unsupported Content-Type {0:?}; use application/json.")]
    MediaType(String),
    #[error("Request is too large: the limit is {0} bytes.")]
    TooLarge(usize),
    #[error("The request body was not received in time.")]
    BodyTimeout,
    #[error("A request must carry exactly one Host header.")]
    Host,
    #[error("Only the chunked transfer coding is supported.")]
    TransferCoding,
    #[error("{denied}")]
    Denied {
        denied: Denied,
        /// Sent with a 401, naming where to get a token.
        www_authenticate: HeaderValue,
    },
    #[error("The instance directory is unavailable; retry later.")]
    Directory(#[source] DirectoryError),
    /// Nova mode: the directory routes do not apply.
    #[error(
        "The instance directory is Nova's own (directory.backend = \"nova\"): herald reads it and never changes it; manage servers through Nova."
    )]
    DirectoryIsNova,
}

impl ApiError {
    /// The one mapping from an API error to its HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(_)
            | Self::BodyRead(_)
            | Self::Host
            | Self::Version(VersionError::Malformed(_)) => StatusCode::BAD_REQUEST,
            Self::Version(VersionError::Unsupported(_)) => StatusCode::NOT_ACCEPTABLE,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) | Self::DirectoryIsNova => StatusCode::METHOD_NOT_ALLOWED,
            Self::MediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::TransferCoding => StatusCode::NOT_IMPLEMENTED,
            Self::Denied { denied, .. } => match denied {
                Denied::Unauthenticated => StatusCode::UNAUTHORIZED,
                Denied::Forbidden => StatusCode::FORBIDDEN,
                Denied::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            },
            Self::Directory(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The fault body (status and message; a 405's `Allow`).
    pub fn fault(&self) -> Fault {
        match self {
            Self::MethodNotAllowed(allow) => Fault::method_not_allowed(allow),
            // No method is allowed on these routes in Nova mode: an empty `Allow`.
            Self::DirectoryIsNova => Fault {
                allow: Some(""),
                ..Fault::new(self.status(), self.to_string())
            },
            _ => Fault::new(self.status(), self.to_string()),
        }
    }

    /// The whole answer: the fault body plus the headers its status needs.
    pub fn into_response(self) -> Response<Body> {
        match &self {
            Self::Directory(error) => {
                tracing::error!(error = %error_chain(error), "instance directory unavailable");
            }
            Self::BodyRead(error) => {
                tracing::debug!(error = %error_chain(error), "request body unreadable");
            }
            _ => {}
        }
        let mut response = self.fault().into_response();
        if let Self::Denied {
            denied: Denied::Unauthenticated,
            www_authenticate,
        } = self
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, www_authenticate);
        }
        response
    }
}

impl From<DirectoryError> for ApiError {
    fn from(error: DirectoryError) -> Self {
        Self::Directory(error)
    }
}

impl From<super::validate::Invalid> for ApiError {
    fn from(invalid: super::validate::Invalid) -> Self {
        Self::Invalid(invalid.0)
    }
}

impl From<super::directory_body::Invalid> for ApiError {
    fn from(invalid: super::directory_body::Invalid) -> Self {
        Self::Invalid(invalid.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::microversion::Microversion;

    #[test]
    fn each_refusal_has_its_status_and_headers() {
        let www = HeaderValue::from_static("Keystone uri=\"http://k/v3\"");
        let cases = [
            (ApiError::Invalid("x".into()), 400),
            (ApiError::Host, 400),
            (
                ApiError::Version(VersionError::Malformed("2.x".into())),
                400,
            ),
            (
                ApiError::Version(VersionError::Unsupported(Microversion::MAX)),
                406,
            ),
            (ApiError::NotFound("x".into()), 404),
            (ApiError::MethodNotAllowed("GET"), 405),
            (ApiError::DirectoryIsNova, 405),
            (ApiError::MediaType("text/plain".into()), 415),
            (ApiError::TooLarge(10), 413),
            (ApiError::BodyTimeout, 408),
            (ApiError::TransferCoding, 501),
            (
                ApiError::Denied {
                    denied: Denied::Unauthenticated,
                    www_authenticate: www.clone(),
                },
                401,
            ),
            (
                ApiError::Denied {
                    denied: Denied::Forbidden,
                    www_authenticate: www.clone(),
                },
                403,
            ),
        ];
        for (error, code) in cases {
            let allow = matches!(
                error,
                ApiError::MethodNotAllowed(_) | ApiError::DirectoryIsNova
            );
            let unauthenticated = error.status() == StatusCode::UNAUTHORIZED;
            let response = error.into_response();
            assert_eq!(response.status().as_u16(), code);
            assert_eq!(response.headers().contains_key(header::ALLOW), allow);
            assert_eq!(
                response.headers().get(header::WWW_AUTHENTICATE),
                unauthenticated.then_some(&www)
            );
        }
    }
}
