//! The browser terminal (`web/`) in a real browser: Debian's Chromium, driven by
//! playwright-core from `web/tests/browser.mjs`, against the local rig (Mosquitto from
//! `broker init`, `host-sim mqtt` with CP/M) and the page from `altair-cloud web serve`.
//!
//! Chromium does not trust the broker's private CA; it is started with
//! `--ignore-certificate-errors-spki-list` and the hash of the broker certificate's key,
//! computed here, so it accepts that key only. The script reports each step on stdout
//! and asks for what only this side can do (stop and start the broker or the device).
//! Screenshots go to `target/artifacts/`. Skipped, saying why, when Chromium, node or
//! `web/node_modules` is missing (`scripts/install-deps.sh` installs them).

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use altair_cloud::programs::{find_program, spawn_lines};
use altair_hil::{
    ALTAIR_CLOUD, Failure, LocalRig, Rig, RigOptions, STEP_TIMEOUT, workspace_program,
};

/// How long one scenario may run in the browser.
const SCENARIO_LIMIT: Duration = Duration::from_secs(240);

/// The repository's top folder.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// Chromium and node, or why the test cannot run here.
fn browser_tools() -> Result<(PathBuf, PathBuf), String> {
    let chromium = std::env::var_os("ALTAIR_CHROMIUM")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| find_program("chromium"))
        .ok_or("chromium not installed (Debian: apt-get install chromium)")?;
    let node =
        find_program("node").ok_or("node not installed (Debian: apt-get install nodejs npm)")?;
    if !repo().join("web/node_modules/playwright-core").is_dir() {
        return Err("web/node_modules missing (cd web && npm ci)".into());
    }
    Ok((chromium, node))
}

/// `altair-cloud web serve` on a free port, killed when dropped.
struct WebServer {
    child: Child,
    url: String,
}

impl WebServer {
    /// Serves the embedded page with the rig's broker directory as the login defaults;
    /// returns it with everything it printed before serving.
    fn start(rig: &LocalRig) -> Result<(WebServer, String), Failure> {
        let mut cmd = Command::new(workspace_program(ALTAIR_CLOUD)?);
        cmd.args(["web", "serve", "--port=0"])
            .arg(format!("--broker-dir={}", rig.broker_dir().display()));
        let (child, lines): (Child, Receiver<String>) =
            spawn_lines(cmd, |l| l).map_err(|e| Failure(format!("cannot start web serve: {e}")))?;
        let mut server = WebServer {
            child,
            url: String::new(),
        };
        let mut printed = String::new();
        let deadline = Instant::now() + STEP_TIMEOUT;
        while server.url.is_empty() || !printed.contains("spki-list") {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines
                .recv_timeout(left)
                .map_err(|_| Failure(format!("web serve printed no URL and pin: {printed}")))?;
            if let Some(url) = line.split(" is at ").nth(1) {
                server.url = url.trim().to_owned();
            }
            printed.push_str(&line);
            printed.push('\n');
        }
        server.check_current()?;
        Ok((server, printed))
    }

    /// Fails when the page served is not `web/dist` as it is now: the binary was built
    /// before the page was (`cargo nextest run -p altair-hil-tests` does not rebuild
    /// other packages' binaries), and the test would run an old page.
    fn check_current(&self) -> Result<(), Failure> {
        let address = self
            .url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let mut stream = std::net::TcpStream::connect(&address)
            .map_err(|e| Failure(format!("web serve at {address}: {e}")))?;
        stream
            .write_all(b"GET /app.js HTTP/1.1\r\n\r\n")
            .map_err(|e| Failure(e.to_string()))?;
        let mut response = Vec::new();
        std::io::Read::read_to_end(&mut stream, &mut response)
            .map_err(|e| Failure(e.to_string()))?;
        let built = std::fs::read(repo().join("web/dist/app.js"))
            .map_err(|e| Failure(format!("web/dist/app.js: {e}")))?;
        if !response.ends_with(&built) {
            return Err(Failure::new(
                "the altair-cloud binary serves another page than web/dist: \
                 cargo build --release -p altair-cloud",
            ));
        }
        Ok(())
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `web/tests/browser.mjs SCENARIO` against a new local rig; returns the steps the
/// script passed. `Ok(None)` when skipped.
fn run_scenario(test: &str, scenario: &str) -> Result<Option<Vec<String>>, Failure> {
    run_scenario_with(test, scenario, RigOptions::default())
}

/// [`run_scenario`] with the device run with `options`.
fn run_scenario_with(
    test: &str,
    scenario: &str,
    options: RigOptions,
) -> Result<Option<Vec<String>>, Failure> {
    let (chromium, node) = match browser_tools() {
        Ok(tools) => tools,
        Err(why) => {
            println!("SKIPPED {test}: {why}");
            return Ok(None);
        }
    };
    let Some(mut rig) = Rig::start_local(test, options)? else {
        return Ok(None);
    };
    // CP/M is up before the browser comes.
    let mut term = rig.terminal()?;
    term.wait_status("online", STEP_TIMEOUT)?;
    term.at_cpm_prompt()?;
    let local = rig.local().expect("a local rig");
    let target = local.web_target();
    let (user, password) = target
        .endpoint
        .credentials
        .clone()
        .ok_or_else(|| Failure::new("the web target has no password"))?;
    let pin = altair_cloud::web::spki_pin(&local.broker_dir().join("server.crt"))
        .map_err(|e| Failure(e.to_string()))?;
    let (server, printed) = WebServer::start(local)?;
    // What `web serve --broker-dir` tells a person is the pin the browser needs.
    assert!(
        printed.contains(&format!("--ignore-certificate-errors-spki-list={pin}")),
        "{printed}"
    );

    let artifacts = repo().join("target/artifacts");
    let mut script = Command::new(node)
        .arg("tests/browser.mjs")
        .arg(scenario)
        .current_dir(repo().join("web"))
        .env("ALTAIR_WEB_URL", &server.url)
        .env("ALTAIR_BROKER_URL", target.endpoint.url.to_string())
        .env("ALTAIR_WEB_USER", user)
        .env(
            "ALTAIR_WEB_PASSWORD",
            String::from_utf8_lossy(&password).as_ref(),
        )
        .env("ALTAIR_CHANNEL", &target.channel)
        .env("ALTAIR_SPKI_PIN", &pin)
        .env("ALTAIR_ARTIFACTS", &artifacts)
        .env("ALTAIR_CHROMIUM", chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Failure(format!("cannot start node: {e}")))?;
    let mut answers = script.stdin.take().expect("piped");
    let stdout = script.stdout.take().expect("piped");
    // The script's lines, read on a thread so the time limit holds while it is silent.
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + SCENARIO_LIMIT;
    let mut passed = Vec::new();
    let mut transcript = String::new();
    let outcome = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines.recv_timeout(left) else {
            break Err(Failure(format!(
                "the browser script ended or timed out without a verdict:\n{transcript}"
            )));
        };
        println!("[browser] {line}");
        transcript.push_str(&line);
        transcript.push('\n');
        if let Some(step) = line.strip_prefix("ok ") {
            passed.push(step.to_owned());
        } else if let Some(action) = line.strip_prefix("need ") {
            match action {
                "broker-stop" => local.broker().stop(),
                "broker-start" => local.broker().resume()?,
                "device-stop" => local.stop_device(),
                "device-start" => local.start_device()?,
                other => break Err(Failure(format!("the script asks for {other:?}"))),
            }
            writeln!(answers, "done").map_err(|e| Failure(format!("answering the script: {e}")))?;
        } else if line.starts_with("passed ") {
            break Ok(passed);
        } else if line.starts_with("failed ") {
            // The script's message goes on over more lines: take them all, until it exits.
            while let Ok(more) = lines.recv_timeout(STEP_TIMEOUT) {
                transcript.push_str(&more);
                transcript.push('\n');
            }
            break Err(Failure(transcript));
        }
    };
    let _ = script.kill();
    let _ = script.wait();
    drop(server);
    outcome.map(Some)
}

/// Asserts every one of `expected` was reported passed.
fn assert_steps(passed: &[String], expected: &[&str]) {
    for step in expected {
        assert!(
            passed.iter().any(|p| p == step),
            "step {step:?} not passed; passed: {passed:?}"
        );
    }
}

#[test]
fn browser_runs_cpm_commands_ctrl_c_a_paste_and_line_mode() -> Result<(), Failure> {
    let Some(passed) = run_scenario("browser_session", "session")? else {
        return Ok(());
    };
    assert_steps(
        &passed,
        &[
            "login shows broker connected and device online",
            "Enter gives the A> prompt",
            "DIR lists the disk",
            "Ctrl-C warm-boots CP/M",
            "Ctrl-C over a selection copies instead",
            "a 30-line paste arrives intact in two chunks",
            "line mode edits locally and sends the line with Enter",
            "the monitor button stops the CPU and lets it run again",
            "the settings are remembered without the password",
            "the terminal fits the window",
        ],
    );
    let shot = repo().join("target/artifacts/browser-dir.png");
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "{}: {size} bytes", shot.display());
    Ok(())
}

#[test]
fn browser_shows_a_wrong_password_a_channel_not_granted_and_an_untrusted_certificate()
-> Result<(), Failure> {
    let Some(passed) = run_scenario("browser_refusals", "refusals")? else {
        return Ok(());
    };
    assert_steps(
        &passed,
        &[
            "a wrong password shows a clear error and the login form",
            "a channel not granted shows a clear error",
            "an untrusted certificate shows what to check",
        ],
    );
    Ok(())
}

#[test]
fn browser_reconnects_after_a_broker_restart_and_shows_the_device_status() -> Result<(), Failure> {
    let Some(passed) = run_scenario("browser_restart", "restart")? else {
        return Ok(());
    };
    assert_steps(
        &passed,
        &[
            "a stopped broker shows reconnecting",
            "the page reconnects by itself",
            "keys typed during the outage arrive after it",
            "typing works after the reconnect",
            "a device gone shows offline",
            "a device back shows online and its prompt",
        ],
    );
    Ok(())
}

#[test]
fn browser_local_echo_suits_a_device_that_suppresses_its_echo_like_the_original()
-> Result<(), Failure> {
    let options = RigOptions {
        echo_suppression: Some("count"),
        ..RigOptions::default()
    };
    let Some(passed) = run_scenario_with("browser_original_echo", "original-echo", options)? else {
        return Ok(());
    };
    assert_steps(
        &passed,
        &[
            "character mode with local echo shows each key once",
            "line mode with local echo shows the line once",
        ],
    );
    Ok(())
}
