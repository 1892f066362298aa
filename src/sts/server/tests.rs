//! The listener through a real socket, with a fake handler: what reaches the handler, what the
//! client gets back, what is counted and logged.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use zeroize::Zeroizing;

use super::*;
use crate::authz::FixedClock;
use crate::logging::{Capture, JsonLines};
use crate::sts::wire::{AssumedRole, CallerIdentity, IssuedCredentials, WebIdentityInput};

const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl";

/// What the fake handler saw of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    action: Action,
    method: String,
    target: String,
    authority: String,
    host_header: Option<String>,
    body: Vec<u8>,
    request_id: String,
    source: IpAddr,
    now: SystemTime,
}

/// Answers `GetCallerIdentity` with a fixed identity, `AssumeRoleWithWebIdentity` by reading its
/// input (so validation errors come back), and refuses `AssumeRole`.
#[derive(Default)]
struct Fake {
    seen: Mutex<Vec<Seen>>,
}

impl Handler for Fake {
    fn handle(&self, call: &Call<'_>, now: SystemTime) -> Handled {
        let host_header = call
            .http
            .headers
            .iter()
            .find(|h| h.name == "host")
            .map(|h| String::from_utf8_lossy(h.value).into_owned());
        self.seen.lock().unwrap().push(Seen {
            action: call.action,
            method: call.http.method.to_owned(),
            target: call.http.target.to_owned(),
            authority: call.http.authority.to_owned(),
            host_header,
            body: call.http.body.unwrap_or_default().to_vec(),
            request_id: call.request_id.to_owned(),
            source: call.source,
            now,
        });
        match call.action {
            Action::GetCallerIdentity => Handled {
                result: Ok(Answer::CallerIdentity(CallerIdentity {
                    arn: "arn:aws:iam::111122223333:user/alice".into(),
                    user_id: "AIDAEXAMPLEALICE0001".into(),
                    account: "111122223333".into(),
                })),
                log: LogDetail {
                    caller: Some("arn:aws:iam::111122223333:user/alice".into()),
                    ..LogDetail::default()
                },
            },
            Action::AssumeRoleWithWebIdentity => {
                let result = WebIdentityInput::from_params(call.params).map(|input| {
                    Answer::AssumedRole(AssumedRole {
                        credentials: IssuedCredentials {
                            access_key_id: "ASIAEXAMPLE7Q2M4K6ZB".into(),
                            secret_access_key: Zeroizing::new("s".repeat(40)),
                            session_token: "SEALEDTOKEN".into(),
                            expiration: 1_767_229_200,
                        },
                        arn: format!(
                            "arn:aws:sts::111122223333:assumed-role/app/{}",
                            input.role_session_name
                        ),
                        assumed_role_id: format!("AROAEXAMPLE:{}", input.role_session_name),
                        packed_policy_size: None,
                        source_identity: None,
                        subject_from_web_identity_token: Some("system".into()),
                        audience: Some("sts.amazonaws.com".into()),
                        provider: None,
                    })
                });
                Handled {
                    result,
                    log: LogDetail {
                        role_arn: call.params.get("RoleArn").map(str::to_owned),
                        access_key_id: Some("ASIAEXAMPLE7Q2M4K6ZB".into()),
                        expiration: Some(1_767_229_200),
                        detail: Some("statement 0 of the trust policy allowed".into()),
                        ..LogDetail::default()
                    },
                }
            }
            Action::AssumeRole => Handled {
                result: Err(StsError::root_cannot_assume_roles()),
                log: LogDetail::default(),
            },
        }
    }
}

struct Server {
    addr: SocketAddr,
    fake: Arc<Fake>,
    metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

async fn start(limits: Limits) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = Arc::new(Fake::default());
    let metrics = Arc::new(Metrics::new(&[], &[], "0.0.0-test"));
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(serve(
        listener,
        fake.clone(),
        metrics.clone(),
        Arc::new(FixedClock(now())),
        limits,
        stopped,
    ));
    // On this single-threaded runtime, one yield runs `serve` up to its first `accept`.
    tokio::task::yield_now().await;
    Server {
        addr,
        fake,
        metrics,
        stop,
        task,
    }
}

/// One answer as read off the socket.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The text between `<tag>` and `</tag>`.
    fn element(&self, tag: &str) -> &str {
        let (_, rest) = self.body.split_once(&format!("<{tag}>")).unwrap();
        rest.split_once(&format!("</{tag}>")).unwrap().0
    }
}

/// Sends `raw` on a connection of its own and reads until the server closes it.
async fn exchange(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(raw).await.unwrap();
    let mut seen = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut seen)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    let text = String::from_utf8(seen).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_owned(), v.trim().to_owned())
        })
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: sts.example:8443\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn web_identity_body() -> String {
    format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15\
         &RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fapp\
         &RoleSessionName=botocore-session-1767225600&WebIdentityToken={JWT}%0A"
    )
}

fn is_uuid_v4(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok_and(|u| u.get_version_num() == 4)
        && text.len() == 36
        && text == text.to_ascii_lowercase()
}

#[tokio::test]
async fn a_web_identity_post_is_answered_in_xml_with_its_request_id() {
    let server = start(Limits::default()).await;
    let body = web_identity_body();
    let reply = exchange(server.addr, &post("/sts", &body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("text/xml"));
    let id = reply.header("x-amzn-requestid").unwrap().to_owned();
    assert!(is_uuid_v4(&id), "{id}");
    assert_eq!(reply.element("RequestId"), id);
    assert!(reply.body.starts_with(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    ));
    assert_eq!(reply.element("AccessKeyId"), "ASIAEXAMPLE7Q2M4K6ZB");
    assert_eq!(reply.element("Expiration"), "2026-01-01T01:00:00Z");
    assert_eq!(
        reply.element("Arn"),
        "arn:aws:sts::111122223333:assumed-role/app/botocore-session-1767225600"
    );

    let seen = server.fake.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [Seen {
            action: Action::AssumeRoleWithWebIdentity,
            method: "POST".into(),
            target: "/sts".into(),
            authority: "sts.example:8443".into(),
            host_header: Some("sts.example:8443".into()),
            body: body.into_bytes(),
            request_id: id,
            source: "127.0.0.1".parse().unwrap(),
            now: now(),
        }]
    );
}

#[tokio::test]
async fn a_get_query_is_served_on_any_path() {
    let server = start(Limits::default()).await;
    let target = "/some/path?Action=GetCallerIdentity&Version=2011-06-15";
    let reply = exchange(
        server.addr,
        format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.element("UserId"), "AIDAEXAMPLEALICE0001");
    let seen = server.fake.seen.lock().unwrap().clone();
    let [call] = seen.as_slice() else {
        panic!("{seen:?}")
    };
    assert_eq!(
        (
            call.method.as_str(),
            call.target.as_str(),
            call.body.as_slice()
        ),
        ("GET", target, &b""[..])
    );
}

#[tokio::test]
async fn refusals_have_their_status_code_and_error_body() {
    let server = start(Limits::default()).await;
    let cases: [(Vec<u8>, u16, &str, &str); 5] = [
        (
            post("/", "Version=2011-06-15"),
            400,
            "MissingAction",
            "The request must contain the parameter Action",
        ),
        (
            post("/", "Action=GetCallerIdentity&Version=2011-06-14"),
            400,
            "InvalidAction",
            "Could not find operation GetCallerIdentity for version 2011-06-14",
        ),
        (
            post(
                "/?Action=GetCallerIdentity",
                "Action=GetCallerIdentity&Version=2011-06-15",
            ),
            400,
            "ValidationError",
            "The parameter Action appears more than once in the request",
        ),
        (
            post(
                "/",
                "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleSessionName=a",
            ),
            400,
            "ValidationError",
            "3 validation errors detected: \
             Value null at 'roleArn' failed to satisfy constraint: Member must not be null; \
             Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2; \
             Value null at 'webIdentityToken' failed to satisfy constraint: Member must not be null",
        ),
        (
            post("/", "Action=AssumeRole&Version=2011-06-15"),
            403,
            "AccessDenied",
            "Roles may not be assumed by root accounts.",
        ),
    ];
    for (request, status, code, message) in cases {
        let reply = exchange(server.addr, &request).await;
        assert_eq!(
            (
                reply.status,
                reply.element("Code"),
                reply.element("Message")
            ),
            (status, code, message),
            "{}",
            reply.body
        );
        assert_eq!(reply.element("Type"), "Sender");
        assert_eq!(
            reply.element("RequestId"),
            reply.header("x-amzn-requestid").unwrap()
        );
        assert_eq!(reply.header("content-type"), Some("text/xml"));
    }
    // Only the last two reached the handler.
    assert_eq!(server.fake.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn other_methods_are_refused_with_405() {
    let server = start(Limits::default()).await;
    let reply = exchange(
        server.addr,
        b"PUT /?Action=GetCallerIdentity&Version=2011-06-15 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!(
        (reply.status, reply.element("Code"), reply.header("allow")),
        (405, "MethodNotAllowed", Some("GET, POST"))
    );
    assert!(server.fake.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn bodies_over_the_bound_are_refused_declared_or_chunked() {
    let server = start(Limits {
        max_body_bytes: 100,
        ..Limits::default()
    })
    .await;
    let at_bound = format!(
        "Action=GetCallerIdentity&Version=2011-06-15&Pad={}",
        "x".repeat(100 - 48)
    );
    assert_eq!(at_bound.len(), 100);
    assert_eq!(
        exchange(server.addr, &post("/", &at_bound)).await.status,
        200
    );

    let over = format!("{at_bound}x");
    let reply = exchange(server.addr, &post("/", &over)).await;
    assert_eq!(
        (
            reply.status,
            reply.element("Code"),
            reply.element("Message")
        ),
        (
            413,
            "RequestEntityTooLarge",
            "Request body must be at most 100 bytes"
        )
    );
    // Chunked: no length is declared; the bound holds while reading.
    let chunk = "x".repeat(60);
    let chunked = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\n\r\n3c\r\n{chunk}\r\n3c\r\n{chunk}\r\n0\r\n\r\n"
    );
    let reply = exchange(server.addr, chunked.as_bytes()).await;
    assert_eq!(
        (reply.status, reply.element("Code")),
        (413, "RequestEntityTooLarge")
    );
    assert_eq!(reply.header("connection"), Some("close"));
    assert_eq!(server.fake.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_a_request_timeout() {
    let server = start(Limits {
        request_timeout: Duration::from_millis(200),
        ..Limits::default()
    })
    .await;
    let reply = exchange(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 50\r\n\r\nAction=",
    )
    .await;
    assert_eq!(
        (reply.status, reply.element("Code")),
        (408, "RequestTimeout")
    );
}

#[tokio::test]
async fn every_request_has_a_fresh_id_and_is_counted_once() {
    let server = start(Limits::default()).await;
    let text = server.metrics.render();
    for (action, result) in [
        ("AssumeRoleWithWebIdentity", "ok"),
        ("GetCallerIdentity", "InvalidClientTokenId"),
        ("unknown", "MissingAction"),
        ("unknown", "RequestTimeout"),
    ] {
        let series = format!(
            "lattice_authz_sts_requests_total{{action=\"{action}\",result=\"{result}\"}} 0\n"
        );
        assert!(text.contains(&series), "{series} missing from\n{text}");
    }
    let gci = "Action=GetCallerIdentity&Version=2011-06-15";
    let first = exchange(server.addr, &post("/", gci)).await;
    let second = exchange(server.addr, &post("/", gci)).await;
    exchange(server.addr, &post("/", "Version=2011-06-15")).await;
    assert_ne!(
        first.header("x-amzn-requestid"),
        second.header("x-amzn-requestid")
    );
    let text = server.metrics.render();
    for series in [
        "lattice_authz_sts_requests_total{action=\"GetCallerIdentity\",result=\"ok\"} 2\n",
        "lattice_authz_sts_requests_total{action=\"unknown\",result=\"MissingAction\"} 1\n",
        "lattice_authz_sts_request_duration_seconds_count{action=\"GetCallerIdentity\"} 2\n",
        "lattice_authz_sts_request_duration_seconds_count{action=\"unknown\"} 1\n",
    ] {
        assert!(text.contains(series), "{series} missing from\n{text}");
    }
}

#[tokio::test]
async fn one_log_line_per_request_without_the_token() {
    let capture = Capture::default();
    let sink = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .event_format(JsonLines)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || sink.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let server = start(Limits::default()).await;
    let ok = exchange(server.addr, &post("/sts", &web_identity_body())).await;
    let short = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15\
         &RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fapp&RoleSessionName=s1\
         &WebIdentityToken=eyJ";
    exchange(server.addr, &post("/sts", short)).await;
    let text = capture.text();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("\"message\":\"STS request.\""))
        .collect();
    let [first, second] = lines.as_slice() else {
        panic!("{text}")
    };
    for field in [
        "\"action\":\"AssumeRoleWithWebIdentity\"",
        "\"result\":\"ok\"",
        "\"status\":200",
        "\"role_arn\":\"arn:aws:iam::111122223333:role/app\"",
        "\"access_key_id\":\"ASIAEXAMPLE7Q2M4K6ZB\"",
        "\"expiration\":1767229200",
        "\"detail\":\"statement 0 of the trust policy allowed\"",
        "\"source\":\"127.0.0.1\"",
        "\"duration_us\":",
    ] {
        assert!(first.contains(field), "{field} missing from {first}");
    }
    let id = ok.header("x-amzn-requestid").unwrap();
    assert!(
        first.contains(&format!("\"request_id\":\"{id}\"")),
        "{first}"
    );
    assert!(!first.contains("\"error\""), "{first}");
    assert!(
        second.contains("\"result\":\"ValidationError\"")
            && second.contains("\"status\":400")
            && second.contains(
                "\"error\":\"1 validation error detected: Value at 'webIdentityToken' failed"
            ),
        "{second}"
    );
    assert!(
        !text.contains("eyJ") && !text.contains("SEALEDTOKEN"),
        "{text}"
    );
}

#[tokio::test]
async fn shutdown_stops_accepting_and_serve_returns() {
    let server = start(Limits::default()).await;
    assert_eq!(
        exchange(
            server.addr,
            &post("/", "Action=GetCallerIdentity&Version=2011-06-15")
        )
        .await
        .status,
        200
    );
    server.stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .expect("serve returned")
        .unwrap();
}

#[test]
fn log_messages_are_clipped_at_a_character_boundary() {
    assert_eq!(clip("abc", 5), "abc");
    assert_eq!(clip("abc", 2), "ab");
    assert_eq!(clip("aé", 2), "a");
    assert_eq!(clip("", 0), "");
}

#[test]
fn serve_can_be_spawned() {
    fn is_send<T: Send>(_: &T) {}
    let (_, stopped) = watch::channel(false);
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let future = serve(
        TcpListener::from_std(std_listener).unwrap(),
        Arc::new(Fake::default()),
        Arc::new(Metrics::new(&[], &[], "0")),
        Arc::new(FixedClock(now())),
        Limits::default(),
        stopped,
    );
    is_send(&future);
}
