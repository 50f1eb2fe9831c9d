//! Made-up client ids cannot turn requests into database reads: each requester (certificate,
//! or address without one) gets a small budget of store reads for ids nobody registered, the
//! negative cache answers repeats, and registered clients are not affected.

mod common;

use std::time::Instant;

use common::{Db, TestEnv};

on_both_databases!(a_flood_of_made_up_client_ids_costs_a_bounded_number_of_reads);

async fn a_flood_of_made_up_client_ids_costs_a_bounded_number_of_reads(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let clients = &env.server().state.clients;
    registration_seen(clients).await;
    let attacker = env.http(Some(&env.issue("attacker")));
    let before = clients.store_reads();
    let started = Instant::now();
    for i in 0..300 {
        let (status, body) = env.token(&attacker, &format!("made-up-{i}"), &[]).await;
        common::assert_invalid_client(status, &body);
    }
    let reads = clients.store_reads() - before;
    let allowance = 50 + (started.elapsed().as_secs_f64() * 10.0).ceil() as u64 + 1;
    assert!(
        reads <= allowance,
        "{reads} store reads for 300 made-up ids (allowed {allowance})"
    );

    // Repeats are answered from the negative cache.
    let before = clients.store_reads();
    for i in 0..20 {
        let (status, _) = env.token(&attacker, &format!("made-up-{i}"), &[]).await;
        assert_eq!(status, 401);
    }
    assert_eq!(clients.store_reads() - before, 0, "repeats are not read again");

    // Another requester has its own budget: the registered client gets its token.
    let tpp = env.http(Some(&env.issue("tpp1")));
    assert_eq!(env.token(&tpp, "tpp1", &[]).await.0, 200);
    env.finish().await;
}

/// Waits until the server's change poll has seen the registration and cleared its cache once
/// (tpp1 read from the store twice), so no later clear forgets the unknown ids under test.
async fn registration_seen(clients: &certbound::oauth::clients::ClientCache) {
    let first = clients.store_reads();
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while clients.store_reads() - first < 2 {
        assert!(Instant::now() < deadline, "the registration was never picked up");
        clients.get("tpp1").await.unwrap().expect("tpp1 is registered");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
