//! The first run: `opsledger demo`, then `opsledger serve` on the demo ledger prints
//! its URL and the demo's desk credentials, and those credentials sign in.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::{bin, ok};

/// The server process, stopped when dropped.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        // Ours to stop; it may have exited already.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request on loopback; the whole answer as text.
fn http(addr: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn serve_on_the_demo_ledger_prints_its_url_and_credentials_that_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let demo = ok(&bin()
        .current_dir(dir.path())
        .args([
            "demo",
            "--calls-per-client-per-day",
            "2",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap());
    assert!(
        demo.contains("try the desk: opsledger serve --ledger"),
        "{demo}"
    );
    let mut child = bin()
        .current_dir(dir.path())
        .arg("--ledger")
        .arg(out.join("demo.ledger"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let serving = Serving(child);
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    let (mut url, mut password) = (None, None);
    while url.is_none() || password.is_none() {
        let line = received
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("serve printed no URL and credentials: {printed:#?}"));
        if let Some(rest) = line
            .strip_prefix("opsledger serve: ")
            .and_then(|l| l.split_once(" at http://"))
        {
            url = Some(rest.1.trim_end_matches('/').to_owned());
        }
        if let Some(rest) = line.trim().strip_prefix("user auditor, password ") {
            password = Some(rest.split(':').next().unwrap().to_owned());
        }
        printed.push(line);
    }
    let (addr, password) = (url.unwrap(), password.unwrap());
    let body = format!("user=auditor&password={password}");
    let answer = http(
        &addr,
        &format!(
            "POST /login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    let cookie = answer
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie: {answer}"))
        .to_owned();
    let home = http(
        &addr,
        &format!("GET / HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"),
    );
    assert!(home.starts_with("HTTP/1.1 200"), "{home}");
    assert!(
        home.contains("northwind-hvac") && home.contains("Signed in as"),
        "{home}"
    );
    drop(serving);
}
