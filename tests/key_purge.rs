//! An emergency purge of a leaked signing key (`certbound keys purge`): tokens signed with it
//! stop working at the resource server within a reload interval, even those whose verification
//! is cached; tokens of the new key keep working; the active key cannot be purged.

mod common;

use std::time::Duration;

use certbound::jose::{KeyEncryptionKey, SigningAlg};
use certbound::oauth::signing_keys::{self as keys, KeysError};
use common::{Db, TestEnv};

on_both_databases!(a_purged_key_takes_its_cached_tokens_with_it);

async fn a_purged_key_takes_its_cached_tokens_with_it(db: Db) {
    let env = TestEnv::start_with(db, |f| f.demo_bank = Some(true)).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let cert = env.issue("tpp1");
    let http = env.http(Some(&cert));
    let issued = certbound::rs::api_keys::issue("tpp1", &[]);
    env.store.insert_api_key(&issued.row, None).await.unwrap();
    let token = |http: reqwest::Client| {
        let env = &env;
        async move {
            let (_, body) = env.token(&http, "tpp1", &[]).await;
            body["access_token"].as_str().unwrap().to_string()
        }
    };
    let bank = |token: String| {
        let (http, url, key) = (http.clone(), env.url("/bank/v1/accounts"), issued.key.clone());
        async move { common::keyed_get(&http, &url, &token, &key).await }
    };
    let old = token(http.clone()).await;
    let old_kid = jsonwebtoken::decode_header(&old).unwrap().kid.unwrap();
    assert_eq!(bank(old.clone()).await, 200, "verified once, now cached");

    // The active key cannot be purged.
    assert!(matches!(
        keys::purge_key(&env.store, &old_kid).await,
        Err(KeysError::ActiveKey(_))
    ));
    assert!(matches!(
        keys::purge_key(&env.store, "no-such-kid").await,
        Err(KeysError::UnknownKey(_))
    ));

    let kek = KeyEncryptionKey::load(&certbound::jose::KekSource::File(
        env.dir.path().join("certbound-data/kek"),
    ))
    .unwrap();
    let new_kid = keys::rotate(&env.store, &kek, SigningAlg::Es256).await.unwrap();
    let mut new = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        new = token(http.clone()).await;
        if jsonwebtoken::decode_header(&new).unwrap().kid.as_deref() == Some(new_kid.as_str()) {
            break;
        }
    }
    assert_eq!(bank(old.clone()).await, 200, "a retired key still verifies its tokens");

    keys::purge_key(&env.store, &old_kid).await.unwrap();
    let mut refused = false;
    for _ in 0..50 {
        if bank(old.clone()).await == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "a token of the purged key still works");
    assert_eq!(bank(new).await, 200);
    env.finish().await;
}
