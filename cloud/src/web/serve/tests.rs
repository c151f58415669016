use std::io::{Read as _, Write as _};
use std::net::TcpStream;

use super::*;

/// Starts a server for `site` on a free loopback port; returns the port.
fn start(site: Site) -> u16 {
    let listener = bind(0).unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || run(&listener, site));
    port
}

/// Sends `request` as it is and returns the whole response as text.
fn exchange(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

fn get(port: u16, target: &str) -> String {
    exchange(
        port,
        format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )
}

fn embedded() -> Site {
    Site {
        source: Source::Embedded,
        config_json: None,
    }
}

#[test]
fn the_embedded_page_is_served_with_its_content_types() {
    let port = start(embedded());
    let index = get(port, "/");
    assert!(index.starts_with("HTTP/1.1 200 OK\r\n"), "{index}");
    assert!(index.contains("\r\nContent-Type: text/html; charset=utf-8\r\n"));
    assert!(index.contains(r#"<script type="module" src="app.js"></script>"#));
    assert!(index.contains("\r\nX-Content-Type-Options: nosniff\r\n"));
    let js = get(port, "/app.js?v=1");
    assert!(js.contains("\r\nContent-Type: text/javascript; charset=utf-8\r\n"));
    let length = assets::find("app.js").unwrap().text.len();
    assert!(js.contains(&format!("\r\nContent-Length: {length}\r\n")));
    assert!(get(port, "/app.css").contains("\r\nContent-Type: text/css; charset=utf-8\r\n"));
    // HEAD: the same head, no body.
    let head = exchange(port, b"HEAD /app.js HTTP/1.1\r\n\r\n");
    assert!(head.contains(&format!("\r\nContent-Length: {length}\r\n")));
    assert!(head.ends_with("\r\n\r\n"), "{head}");
}

#[test]
fn paths_that_are_not_plain_file_names_are_not_found() {
    for target in [
        "/../Cargo.toml",
        "/..",
        "/a/../index.html",
        "/..%2fCargo.toml",
        "/%2e%2e/Cargo.toml",
        "//etc/passwd",
        "/.git/config",
        "/x\\..\\y",
        "index.html",
        "http://host/index.html",
        "/nope.js",
    ] {
        let r = respond(&embedded(), "GET", target);
        assert_eq!(r.status, 404, "{target}");
    }
    assert_eq!(file_name("/"), Some(INDEX.to_owned()));
    assert_eq!(
        file_name("/sub/app-1.js?x=/../"),
        Some("sub/app-1.js".into())
    );
    let port = start(embedded());
    assert!(get(port, "/../../../../etc/passwd").starts_with("HTTP/1.1 404 Not Found\r\n"));
}

#[test]
fn a_directory_is_served_without_escaping_it_through_links() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("index.html"), "<p>mine</p>").unwrap();
    std::fs::write(root.join("sub/a.txt"), "inner").unwrap();
    std::fs::write(tmp.path().join("secret.txt"), "outside").unwrap();
    std::os::unix::fs::symlink(tmp.path().join("secret.txt"), root.join("leak.txt")).unwrap();
    let site = Site {
        source: Source::Dir(root),
        config_json: None,
    };
    assert_eq!(respond(&site, "GET", "/").body, b"<p>mine</p>");
    assert_eq!(respond(&site, "GET", "/sub/a.txt").body, b"inner");
    assert_eq!(respond(&site, "GET", "/leak.txt").status, 404);
    assert_eq!(respond(&site, "GET", "/sub").status, 404);
    assert_eq!(respond(&site, "GET", "/../secret.txt").status, 404);
}

#[test]
fn config_json_is_served_when_given() {
    let site = Site {
        source: Source::Embedded,
        config_json: Some("{\"channel\": \"7\"}\n".into()),
    };
    let r = respond(&site, "GET", "/config.json");
    assert_eq!((r.status, r.content_type), (200, "application/json"));
    assert_eq!(r.body, b"{\"channel\": \"7\"}\n");
    assert_eq!(respond(&embedded(), "GET", "/config.json").status, 404);
}

#[test]
fn other_methods_bad_requests_and_huge_heads_are_refused() {
    let port = start(embedded());
    let post = exchange(port, b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert!(
        post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{post}"
    );
    assert!(post.contains("\r\nAllow: GET, HEAD\r\n"));
    let bad = exchange(port, b"GARBAGE\r\n\r\n");
    assert!(bad.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{bad}");
    let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 10_000));
    huge.extend_from_slice(b"\r\n\r\n");
    // The server answers after MAX_HEAD bytes and closes; the rest of the request may be
    // refused by the closed socket, which is fine.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _ = stream.write_all(&huge);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
}
