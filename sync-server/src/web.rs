//! The phone web app, served from a folder of static files (`sync-server --web DIR`)
//! so that one self-hosted binary gives every phone its client.
//!
//! Only files inside the folder are served: a path with `..`, a backslash, a NUL or
//! a hidden component is refused, and a symbolic link leading out of the folder is
//! not followed. Every answer says `Cache-Control: no-cache` with an `ETag` (the
//! BLAKE3 hash of the bytes), so a browser revalidates cheaply and the service
//! worker, which keeps the app for offline use, sees a new version at once. A
//! `NAME.gz` beside a file is sent instead to a client that accepts gzip.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// Files larger than this are not served (the app's wasm is a few MB).
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The folder the web app was built into.
#[derive(Debug, Clone)]
pub struct WebRoot {
    root: PathBuf,
}

impl WebRoot {
    /// The folder at `dir`, which must exist and hold an `index.html`.
    pub fn open(dir: &Path) -> std::io::Result<WebRoot> {
        let root = dir.canonicalize()?;
        if !root.join("index.html").is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} has no index.html", root.display()),
            ));
        }
        Ok(WebRoot { root })
    }

    /// The file a request path names, if it is one the folder holds.
    fn file_for(&self, path: &str) -> Option<PathBuf> {
        let relative = path.trim_start_matches('/');
        let relative = if relative.is_empty() || relative.ends_with('/') {
            format!("{relative}index.html")
        } else {
            relative.to_string()
        };
        if relative.contains(['\\', '\0']) {
            return None;
        }
        let mut file = self.root.clone();
        for component in Path::new(&relative).components() {
            match component {
                Component::Normal(part) if !part.to_string_lossy().starts_with('.') => {
                    file.push(part)
                }
                _ => return None,
            }
        }
        // A link inside the folder may not lead out of it.
        let real = file.canonicalize().ok()?;
        (real.starts_with(&self.root) && real.is_file()).then_some(real)
    }

    /// Answers a GET or HEAD for `uri`.
    pub async fn answer(&self, method: Method, uri: Uri, headers: HeaderMap) -> Response {
        if method != Method::GET && method != Method::HEAD {
            return (
                StatusCode::METHOD_NOT_ALLOWED,
                [(header::ALLOW, "GET, HEAD")],
            )
                .into_response();
        }
        let Some(file) = self.file_for(uri.path()) else {
            return (StatusCode::NOT_FOUND, "not found\n").into_response();
        };
        let gzip = accepts_gzip(&headers).then(|| gzip_beside(&file)).flatten();
        let sent = gzip.as_deref().unwrap_or(&file);
        let bytes = match read_limited(sent).await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(file = %sent.display(), error = %e, "cannot serve a web app file");
                return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file\n")
                    .into_response();
            }
        };
        let tag = format!("\"{}\"", &blake3::hash(&bytes).to_hex()[..32]);
        let mut response = if if_none_match(&headers, &tag) {
            StatusCode::NOT_MODIFIED.into_response()
        } else if method == Method::HEAD {
            let mut r = Response::new(Body::empty());
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            r
        } else {
            Response::new(Body::from(bytes))
        };
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(&file)),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if let Ok(tag) = HeaderValue::from_str(&tag) {
            h.insert(header::ETAG, tag);
        }
        if gzip.is_some() {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    }
}

async fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    let size = tokio::fs::metadata(path).await?.len();
    if size > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "{size} bytes, over the {MAX_FILE_BYTES}-byte limit"
        )));
    }
    tokio::fs::read(path).await
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

fn gzip_beside(file: &Path) -> Option<PathBuf> {
    let mut name = file.file_name()?.to_os_string();
    name.push(".gz");
    let gz = file.with_file_name(name);
    gz.is_file().then_some(gz)
}

fn if_none_match(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == tag
        })
}

/// The media type of a file the web build writes, by its extension.
fn content_type(file: &Path) -> &'static str {
    let extension = file
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> (tempfile::TempDir, WebRoot) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<!doctype html><p>app").unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/app.wasm"), b"\0asm").unwrap();
        std::fs::write(dir.path().join(".secret"), "no").unwrap();
        let root = WebRoot::open(dir.path()).unwrap();
        (dir, root)
    }

    async fn get(root: &WebRoot, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        root.answer(Method::GET, path.parse().unwrap(), map).await
    }

    async fn body(response: Response) -> Vec<u8> {
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn the_folder_is_served_with_types_and_the_index_at_the_root() {
        let (_dir, root) = folder();
        let index = get(&root, "/", &[]).await;
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(
            index.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(index.headers()[header::CACHE_CONTROL], "no-cache");
        assert_eq!(body(index).await, b"<!doctype html><p>app");
        let wasm = get(&root, "/assets/app.wasm", &[]).await;
        assert_eq!(wasm.headers()[header::CONTENT_TYPE], "application/wasm");
        assert_eq!(body(wasm).await, b"\0asm");
    }

    #[tokio::test]
    async fn nothing_outside_the_folder_or_hidden_in_it_is_served() {
        let (dir, root) = folder();
        let outside = dir.path().parent().unwrap().join("outside-web-root.txt");
        std::fs::write(&outside, "private").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&outside, dir.path().join("link.txt")).unwrap();
        for path in [
            "/../outside-web-root.txt",
            "/assets/../../outside-web-root.txt",
            "/%2e%2e/outside-web-root.txt",
            "/.secret",
            "/link.txt",
            "/assets",
            "/missing.js",
        ] {
            let response = get(&root, path, &[]).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(body(response).await, b"not found\n", "{path}");
        }
        std::fs::remove_file(outside).unwrap();
    }

    #[tokio::test]
    async fn a_known_version_is_not_sent_again_and_gzip_goes_to_who_takes_it() {
        let (dir, root) = folder();
        let first = get(&root, "/index.html", &[]).await;
        let tag = first.headers()[header::ETAG].to_str().unwrap().to_string();
        let again = get(&root, "/index.html", &[("if-none-match", &tag)]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(body(again).await.is_empty());
        std::fs::write(dir.path().join("index.html"), "<!doctype html><p>new").unwrap();
        let changed = get(&root, "/index.html", &[("if-none-match", &tag)]).await;
        assert_eq!(changed.status(), StatusCode::OK, "a new version is sent");

        std::fs::write(dir.path().join("assets/app.wasm.gz"), b"gzipped").unwrap();
        let zipped = get(
            &root,
            "/assets/app.wasm",
            &[("accept-encoding", "br, gzip")],
        )
        .await;
        assert_eq!(zipped.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(zipped.headers()[header::CONTENT_TYPE], "application/wasm");
        assert_eq!(body(zipped).await, b"gzipped");
        let plain = get(
            &root,
            "/assets/app.wasm",
            &[("accept-encoding", "gzip;q=0")],
        )
        .await;
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(body(plain).await, b"\0asm");
    }

    #[test]
    fn a_folder_without_an_index_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = WebRoot::open(dir.path()).unwrap_err();
        assert!(e.to_string().contains("has no index.html"), "{e}");
        assert!(WebRoot::open(&dir.path().join("missing")).is_err());
    }
}
