//! The admin routes of the instance directory: `/directory/servers[/{uuid}]`.

use http::{Method, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::body::{self, Refused};
use super::error::ApiError;
use super::{App, directory_body, routes};
use crate::directory::NewEntry;
use crate::model::{HostName, ServerId};
use crate::web::Body;
use crate::web::fault::json_response;

/// Default and largest page sizes of the list route.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;
/// Largest body of `PUT /directory/servers/{uuid}`: one entry is a few
/// hundred bytes even with 255-character host names.
pub const PUT_BODY_LIMIT: usize = 4096;

/// `GET|PUT|DELETE /directory/servers/{uuid}`
pub async fn item(app: &App, req: Request<Incoming>, segment: &str) -> Response<Body> {
    let Some(id) = routes::server_id(segment) else {
        let error = ApiError::Invalid(format!("'{segment}' is not a valid server UUID."));
        return body::refuse(req, error).await;
    };
    let result = match *req.method() {
        Method::PUT => put(app, req, id).await,
        Method::DELETE => delete(app, id).await.map_err(Refused::from),
        _ => get(app, id).await.map_err(Refused::from),
    };
    result.unwrap_or_else(Refused::into_response)
}

async fn get(app: &App, id: ServerId) -> Result<Response<Body>, ApiError> {
    match app.directory.get(id).await? {
        Some(entry) => Ok(json_response(StatusCode::OK, &json!({ "server": entry }))),
        None => Err(not_found(id)),
    }
}

async fn put(app: &App, req: Request<Incoming>, id: ServerId) -> Result<Response<Body>, Refused> {
    let value = read_json(app, req, PUT_BODY_LIMIT).await?;
    let placement = directory_body::placement(&value)?;
    let entry = app
        .directory
        .put(NewEntry {
            uuid: id,
            placement,
        })
        .await?;
    Ok(json_response(StatusCode::OK, &json!({ "server": entry })))
}

async fn delete(app: &App, id: ServerId) -> Result<Response<Body>, ApiError> {
    if app.directory.delete(id).await? {
        let mut r = Response::new(Body::default());
        *r.status_mut() = StatusCode::NO_CONTENT;
        Ok(r)
    } else {
        Err(not_found(id))
    }
}

/// `GET /directory/servers?host=H&limit=N&marker=UUID`
pub async fn list(app: &App, uri: &Uri) -> Response<Body> {
    let answer = async {
        let query = ListQuery::parse(uri.query().unwrap_or(""))?;
        let page = app
            .directory
            .list(query.host.as_ref(), query.limit, query.marker)
            .await?;
        Ok(json_response(
            StatusCode::OK,
            &json!({ "servers": page.entries, "next_marker": page.next_marker }),
        ))
    };
    answer.await.unwrap_or_else(ApiError::into_response)
}

/// `POST /directory/servers` (bulk upsert, all or nothing)
pub async fn bulk(app: &App, req: Request<Incoming>) -> Response<Body> {
    let answer = async {
        let value = read_json(app, req, app.http.max_bulk_body_bytes).await?;
        let entries = directory_body::bulk(&value)?;
        let written = app.directory.upsert_many(&entries).await?;
        Ok(json_response(
            StatusCode::OK,
            &json!({ "upserted": written }),
        ))
    };
    answer.await.unwrap_or_else(Refused::into_response)
}

async fn read_json(app: &App, req: Request<Incoming>, limit: usize) -> Result<Value, Refused> {
    let bytes = body::take(req, limit, app.http.body_read_timeout)
        .await
        .map_err(Refused::Answered)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::Invalid(format!("Malformed request body: {e}")).into())
}

fn not_found(id: ServerId) -> ApiError {
    ApiError::NotFound(format!("Server {id} is not in the directory."))
}

/// The list route's query, validated.
#[derive(Debug, PartialEq, Eq)]
struct ListQuery {
    host: Option<HostName>,
    limit: u32,
    marker: Option<ServerId>,
}

impl ListQuery {
    fn parse(query: &str) -> Result<Self, ApiError> {
        let mut parsed = Self {
            host: None,
            limit: DEFAULT_LIMIT,
            marker: None,
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "host" => {
                    parsed.host = Some(
                        HostName::parse(&value)
                            .map_err(|e| ApiError::Invalid(format!("Invalid host: {e}")))?,
                    );
                }
                "limit" => {
                    // All digits but past u32 is still "above 1000".
                    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
                    let parsed_limit = value
                        .parse::<u32>()
                        .ok()
                        .or_else(|| digits.then_some(u32::MAX));
                    let limit: u32 = parsed_limit.filter(|&l| l > 0).ok_or_else(|| {
                        ApiError::Invalid(format!(
                            "Invalid limit '{value}': must be a positive integer."
                        ))
                    })?;
                    parsed.limit = limit.min(MAX_LIMIT);
                }
                "marker" => {
                    parsed.marker = Some(ServerId::parse(&value).ok_or_else(|| {
                        ApiError::Invalid(format!("Invalid marker '{value}': not a UUID."))
                    })?);
                }
                _ => {}
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query_rules() {
        let q = ListQuery::parse("").unwrap();
        assert_eq!((q.limit, q.host, q.marker), (100, None, None));
        assert_eq!(ListQuery::parse("limit=5000").unwrap().limit, 1000);
        assert_eq!(ListQuery::parse("limit=4294967296").unwrap().limit, 1000);
        assert_eq!(ListQuery::parse("limit=99999999999").unwrap().limit, 1000);
        assert_eq!(
            ListQuery::parse("limit=7&host=c1")
                .unwrap()
                .host
                .unwrap()
                .as_str(),
            "c1"
        );
        for bad in [
            "limit=0",
            "limit=-1",
            "limit=x",
            "marker=nope",
            "host=a%20b",
        ] {
            assert!(ListQuery::parse(bad).is_err(), "{bad}");
        }
        let m = ListQuery::parse("marker=00000000-0000-0000-0000-000000000001").unwrap();
        assert!(m.marker.is_some());
    }
}
