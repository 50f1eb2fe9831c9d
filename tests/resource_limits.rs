//! A listener's resource limits over real TLS: connections over the per-address cap get a
//! visible 503 (not a reset) and places free up; a body that trickles in gets 408; an idle
//! connection is closed; a 50 KB header section is served on HTTP/1.1 and HTTP/2 alike (a
//! trusted proxy forwarding a chain), and one beyond the limit is refused on both.

mod common;

use std::time::{Duration, Instant};

use certbound::tls::LimitsConfig;
use common::{Db, TestEnv};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

async fn env_with(limits: LimitsConfig) -> TestEnv {
    TestEnv::start_with(Db::Sqlite, |f| f.limits = Some(limits)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_get_a_503_and_places_free_up() {
    let env = env_with(LimitsConfig {
        max_connections_per_address: Some(3),
        ..LimitsConfig::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut tls = common::tls_connect(&env, None).await;
        tls.write_all(HEALTH).await.unwrap();
        assert!(common::read_response(&mut tls).await.starts_with("HTTP/1.1 200"));
        held.push(tls);
    }
    let refused = common::raw_request(&env, None, HEALTH).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.to_ascii_lowercase().contains("retry-after: 1"), "{refused}");

    drop(held.pop());
    let mut served = String::new();
    for _ in 0..50 {
        served = common::raw_request(&env, None, HEALTH).await;
        if served.starts_with("HTTP/1.1 200") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served.starts_with("HTTP/1.1 200"), "a freed place is reused: {served}");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_in_gets_408() {
    let env = env_with(LimitsConfig {
        body_timeout_ms: Some(500),
        ..LimitsConfig::default()
    })
    .await;
    let mut tls = common::tls_connect(&env, None).await;
    let started = Instant::now();
    tls.write_all(
        b"POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\ngrant_type",
    )
    .await
    .unwrap();
    let response = common::read_response(&mut tls).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("invalid_request"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed() {
    let env = env_with(LimitsConfig {
        idle_timeout_ms: Some(300),
        ..LimitsConfig::default()
    })
    .await;
    let mut tls = common::tls_connect(&env, None).await;
    tls.write_all(HEALTH).await.unwrap();
    assert!(common::read_response(&mut tls).await.starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "closed after {:?}",
        started.elapsed()
    );
    env.finish().await;
}

/// The same header section over HTTP/1.1 and HTTP/2.
async fn with_header(env: &TestEnv, bytes: usize, http2: bool) -> Result<u16, String> {
    let builder = reqwest::Client::builder()
        .use_preconfigured_tls(
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(common::roots(&env.pki))
            .with_no_client_auth(),
        )
        .resolve("localhost", env.addr());
    let http = if http2 {
        builder.http2_prior_knowledge()
    } else {
        builder.http1_only()
    }
    .build()
    .unwrap();
    let response = http
        .get(env.url("/healthz"))
        .header("x-padding", "a".repeat(bytes))
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    assert_eq!(
        response.version(),
        if http2 {
            http::Version::HTTP_2
        } else {
            http::Version::HTTP_11
        }
    );
    Ok(response.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_limits_are_the_same_on_http1_and_http2() {
    let env = TestEnv::start(Db::Sqlite).await;
    for http2 in [false, true] {
        assert_eq!(with_header(&env, 50_000, http2).await, Ok(200), "50 KB, http2={http2}");
        let refused = with_header(&env, 80_000, http2).await;
        assert_ne!(refused, Ok(200), "80 KB, http2={http2}");
    }
    env.finish().await;
}
