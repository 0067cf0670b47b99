//! The web dashboard: plain HTML, CSS and JavaScript modules (`assets/`, no build step)
//! compiled into the binary and served at `/ui/`. The pages call the faces' own JSON APIs
//! with the token the user logs in with (a client or admin token; a workflow login for the
//! workflow pages), so this face has no data of its own and no route but its files.

use baton_http::Face;
use rust_embed::RustEmbed;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::{Reply, Response};
use warp::{Filter, Rejection};

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// Every route of the dashboard.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/ui"), ("GET", "/ui/{path}")];

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// The file at `path` under `assets/` (`""` is the page itself).
fn file(path: &str) -> Response {
    let path = if path.is_empty() { "index.html" } else { path };
    match Assets::get(path) {
        Some(f) => {
            let mut resp = Response::new(f.data.into_owned().into());
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(path)),
            );
            // The files change with the binary: revalidate, cheaply.
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            resp
        }
        None => {
            let mut resp = Response::new(format!("no dashboard file `{path}`").into());
            *resp.status_mut() = StatusCode::NOT_FOUND;
            resp
        }
    }
}

/// The dashboard's page and files.
#[utoipa::path(
    get,
    path = "/ui/{path}",
    tag = "dashboard",
    params(("path" = String, Path, description = "A file of the dashboard (empty: its page).")),
    responses(
        (status = 200, description = "The file.", body = String, content_type = "text/html"),
        (status = 404, description = "No such file.", body = String, content_type = "text/plain"),
    ),
)]
pub fn routes() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path("ui")
        .and(warp::get())
        .and(warp::path::full())
        .and(warp::path::tail())
        .map(|full: warp::path::FullPath, tail: warp::path::Tail| {
            // `/ui` itself goes to `/ui/`, so the page's relative paths resolve.
            if full.as_str() == "/ui" {
                warp::redirect::see_other(warp::http::Uri::from_static("/ui/")).into_response()
            } else {
                file(tail.as_str())
            }
        })
}

/// The dashboard: redirects to `/ui/`.
#[utoipa::path(
    get,
    path = "/ui",
    tag = "dashboard",
    responses((status = 303, description = "To `/ui/`.")),
)]
#[allow(dead_code)] // documents the redirect `routes` serves
fn root() {}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(routes, root),
    tags((name = "dashboard", description = "The web dashboard: `/ui/` in a browser.")),
)]
struct UiDoc;

/// The dashboard as a face.
pub struct Ui;

impl Face for Ui {
    fn name(&self) -> &'static str {
        "ui"
    }
    fn routes(&self) -> &'static [(&'static str, &'static str)] {
        ROUTES
    }
    /// Static files need no store.
    fn gates_itself(&self, path: &str) -> bool {
        path == "/ui" || path.starts_with("/ui/")
    }
    fn openapi(&self) -> utoipa::openapi::OpenApi {
        <UiDoc as utoipa::OpenApi>::openapi()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_page_and_its_modules_are_served() {
        let f = routes();
        let page = warp::test::request().path("/ui/").reply(&f).await;
        assert_eq!(page.status(), 200);
        assert!(String::from_utf8_lossy(page.body()).contains("<title>Baton</title>"));
        let js = warp::test::request().path("/ui/app.js").reply(&f).await;
        assert_eq!(
            js.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        let missing = warp::test::request().path("/ui/nope.js").reply(&f).await;
        assert_eq!(missing.status(), 404);
        let bare = warp::test::request().path("/ui").reply(&f).await;
        assert_eq!(bare.status(), 303);
    }
}
