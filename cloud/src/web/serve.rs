//! `altair-cloud web serve`: a small HTTP/1.1 server for the page on a loopback port,
//! for a laptop. std only: one thread per connection, one request per connection
//! (`Connection: close`), `GET` and `HEAD`, a few files.
//!
//! A request path is accepted only when every segment is a plain file name (letters,
//! digits, `.`, `_`, `-`, not starting with a dot), so no `..`, no percent-escapes, no
//! hidden files and no absolute paths reach the file system; a directory being served
//! is also checked after resolving symbolic links. Everything else is a 404.

use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::assets::{self, CONFIG_JSON, INDEX};

/// The port `web serve` listens on when none is given (8800, after the Altair 8800).
pub const DEFAULT_PORT: u16 = 8800;

/// The longest request head read (request line and headers).
const MAX_HEAD: u64 = 8 * 1024;

/// How long a client may take to send its request, or to take the response.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Sent with every response: no caching (a rebuilt page shows at once), no MIME
/// sniffing, no framing by other sites, and scripts only from this origin, with MQTT
/// over WebSockets to any broker. MQTT.js runs its timers in a worker made from a blob
/// (a background tab's own timers are slowed, which would miss keep-alives).
const SECURITY_HEADERS: &str = "Cache-Control: no-cache\r\n\
X-Content-Type-Options: nosniff\r\n\
Content-Security-Policy: default-src 'self'; connect-src 'self' wss: ws:; worker-src 'self' blob:; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'\r\n\
Referrer-Policy: no-referrer\r\n";

/// Where the files come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// The page embedded in this binary.
    Embedded,
    /// A directory (such as `web/dist` while working on the page).
    Dir(PathBuf),
}

/// What the server serves: the page's files, and a `config.json` of its own when given
/// (otherwise the source's, if it has one).
#[derive(Clone, Debug)]
pub struct Site {
    /// The page's files.
    pub source: Source,
    /// The text served as `/config.json`, ahead of the source's.
    pub config_json: Option<String>,
}

/// A response: status, content type and body.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` of the body.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n").into_bytes(),
        }
    }
}

/// Binds `127.0.0.1:port` (0: any free port): the page is for this machine only.
pub fn bind(port: u16) -> io::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
}

/// Serves `site` on `listener` until the process ends; each connection on its own thread.
pub fn run(listener: &TcpListener, site: Site) -> io::Result<()> {
    let site = Arc::new(site);
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            // A connection that failed before it was accepted is that client's problem.
            Err(_) => continue,
        };
        let site = Arc::clone(&site);
        thread::spawn(move || {
            // A client that goes away mid-request only ends its own connection.
            let _ = handle(stream, &site);
        });
    }
    Ok(())
}

/// Reads one request from `stream` and answers it.
fn handle(stream: TcpStream, site: &Site) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new((&stream).take(MAX_HEAD));
    let mut head = Vec::new();
    // The head ends with an empty line; a client that sends more than MAX_HEAD bytes
    // without one gets 431.
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let blank = line == b"\r\n" || line == b"\n";
        head.extend_from_slice(&line);
        if blank {
            break;
        }
    }
    let ended = head.ends_with(b"\n\r\n") || head.ends_with(b"\n\n");
    let (method, response) = match (ended, request_line(&head)) {
        (false, _) if head.len() as u64 >= MAX_HEAD => {
            ("GET", Response::text(431, "request too large"))
        }
        (false, _) => return Ok(()),
        (true, None) => ("GET", Response::text(400, "bad request")),
        (true, Some((method, target))) => (method, respond(site, method, target)),
    };
    write_response(&stream, &response, method == "HEAD")
}

/// The method and target of the request line (`GET /app.js HTTP/1.1`).
fn request_line(head: &[u8]) -> Option<(&str, &str)> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && version.starts_with("HTTP/1.")).then_some((method, target))
}

/// The answer to `method target` from `site`.
pub fn respond(site: &Site, method: &str, target: &str) -> Response {
    if method != "GET" && method != "HEAD" {
        return Response::text(405, "only GET and HEAD");
    }
    let Some(name) = file_name(target) else {
        return Response::text(404, "not found");
    };
    if name == CONFIG_JSON
        && let Some(config) = &site.config_json
    {
        return Response {
            status: 200,
            content_type: assets::content_type(CONFIG_JSON),
            body: config.clone().into_bytes(),
        };
    }
    let body = match &site.source {
        Source::Embedded => assets::find(&name).map(|a| a.text.as_bytes().to_vec()),
        Source::Dir(root) => read_inside(root, &name),
    };
    match body {
        Some(body) => Response {
            status: 200,
            content_type: assets::content_type(&name),
            body,
        },
        None => Response::text(404, "not found"),
    }
}

/// The relative file name a request target asks for (`/` is the page), or `None` when
/// the path is not a plain one (see the module docs). The query string is ignored.
pub fn file_name(target: &str) -> Option<String> {
    let path = target.split(['?', '#']).next()?;
    let rest = path.strip_prefix('/')?;
    if rest.is_empty() {
        return Some(INDEX.to_owned());
    }
    let plain = |segment: &str| {
        !segment.is_empty()
            && !segment.starts_with('.')
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    rest.split('/').all(plain).then(|| rest.to_owned())
}

/// The file `name` under `root`, if it is a regular file that is still under `root` once
/// symbolic links are resolved.
fn read_inside(root: &Path, name: &str) -> Option<Vec<u8>> {
    let root = root.canonicalize().ok()?;
    let path = root.join(name).canonicalize().ok()?;
    if !path.starts_with(&root) || !path.is_file() {
        return None;
    }
    std::fs::read(path).ok()
}

fn write_response(mut stream: &TcpStream, r: &Response, head_only: bool) -> io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    };
    let allow = if r.status == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}{SECURITY_HEADERS}Connection: close\r\n\r\n",
        r.status,
        r.content_type,
        r.body.len()
    );
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(&r.body)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests;
