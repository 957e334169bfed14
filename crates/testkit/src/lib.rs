//! Test helpers: [`HttpServer`], a real HTTP/1.1 server on `127.0.0.1` whose answers a
//! test scripts per path, and which records every request it got.
//!
//! It is deliberately hand-written on `std::net`: tests need answers no well-behaved
//! server library would give (a body larger than announced, a stalled response, a gzip
//! bomb, a redirect loop), and the requests as they came over the wire.

pub mod corpus;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The path with its query.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// When it arrived.
    pub at: Instant,
}

impl Request {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// What to answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers (a `Content-Length` is added unless one is given).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    /// `200` with a body and content type.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// A status with an empty body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// A redirect to `location`.
    pub fn redirect(location: &str) -> Self {
        Self::status(302).header("Location", location)
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Answers after a delay.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The body gzip-compressed, with `Content-Encoding: gzip`.
    pub fn gzipped(mut self) -> Self {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let compressed = encoder
            .write_all(&self.body)
            .and_then(|()| encoder.finish())
            .unwrap_or_default();
        self.body = compressed;
        self.header("Content-Encoding", "gzip")
    }
}

type Handler = Arc<dyn Fn(&Request, usize) -> Reply + Send + Sync>;

/// A scripted HTTP server on loopback; stops when dropped.
pub struct HttpServer {
    address: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Handler>>>,
    log: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl HttpServer {
    /// Starts a server on a free port of `127.0.0.1`.
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let server = Self {
            address,
            routes: Arc::default(),
            log: Arc::default(),
            stop: Arc::default(),
        };
        let (routes, log, stop) = (server.routes.clone(), server.log.clone(), server.stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (routes, log) = (routes.clone(), log.clone());
                        thread::spawn(move || serve(stream, &routes, &log));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Ok(server)
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Answers `path` (matched without the query) with the same reply every time.
    pub fn route(&self, path: &str, reply: Reply) {
        self.route_with(path, move |_, _| reply.clone());
    }

    /// Answers `path` with a function of the request and how many came before it to that path.
    pub fn route_with(&self, path: &str, handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) {
        self.routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(path.to_owned(), Arc::new(handler));
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Requests so far to `path` (without the query).
    pub fn hits(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.split('?').next() == Some(path))
            .collect()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(stream: TcpStream, routes: &Mutex<HashMap<String, Handler>>, log: &Mutex<Vec<Request>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        if let Some(length) = headers.get("content-length").and_then(|l| l.parse::<u64>().ok()) {
            let _ = std::io::copy(&mut (&mut reader).take(length), &mut std::io::sink());
        }
        let request = Request {
            path: path.clone(),
            headers,
            at: Instant::now(),
        };
        let key = path.split('?').next().unwrap_or_default().to_owned();
        let handler = routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let previous = {
            let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
            let previous = log
                .iter()
                .filter(|r| r.path.split('?').next() == Some(key.as_str()))
                .count();
            log.push(request.clone());
            previous
        };
        let reply = match handler {
            Some(handler) => handler(&request, previous),
            None => Reply::status(404),
        };
        thread::sleep(reply.delay);
        let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
        let mut has_length = false;
        for (name, value) in &reply.headers {
            has_length |= name.eq_ignore_ascii_case("content-length");
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !has_length {
            head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
        }
        head.push_str("\r\n");
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&reply.body).is_err() {
            return;
        }
        let _ = writer.flush();
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
