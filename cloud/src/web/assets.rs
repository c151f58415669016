//! The built page (`web/dist/`), embedded in the binary at compile time so that
//! `web serve` and `broker init` need neither npm nor the source tree at run time.

/// One file of the page.
#[derive(Clone, Copy, Debug)]
pub struct Asset {
    /// The file name, as requested (`/app.js`) and as written.
    pub name: &'static str,
    /// Its content. esbuild writes ASCII only (`charset` left at its default), so every
    /// file is text.
    pub text: &'static str,
}

/// The page's own name: what `/` serves.
pub const INDEX: &str = "index.html";

/// The name of the login defaults beside the page (see [`super::PageConfig`]).
pub const CONFIG_JSON: &str = "config.json";

/// Every file of `web/dist/`.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: INDEX,
        text: include_str!("../../../web/dist/index.html"),
    },
    Asset {
        name: "app.js",
        text: include_str!("../../../web/dist/app.js"),
    },
    Asset {
        name: "app.css",
        text: include_str!("../../../web/dist/app.css"),
    },
    Asset {
        name: "LICENSES.txt",
        text: include_str!("../../../web/dist/LICENSES.txt"),
    },
];

/// The embedded file called `name`.
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The `Content-Type` for a file name, by its extension.
pub fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("map") => "application/json",
        _ => "application/octet-stream",
    }
}
