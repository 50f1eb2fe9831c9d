//! The admin console's operations in a real headless Chromium, on SQLite and PostgreSQL: API
//! keys (shown once, rotated with overlap, revoked, as the resource server sees them), a
//! customer's grant listed and revoked, every token of a client revoked, signing keys rotated
//! and a retired one purged after the password again. Screenshots go to
//! target/screenshots/admin-*.png.

mod common;

use std::time::{Duration, Instant};

use certbound::rs::api_keys::ApiKeyFailure;
use common::admin::{key_is, signed_in, text_becomes, OPS};
use common::chromium::{arrived_at, click, element, screenshot, text_of, type_into};
use common::Db;

async fn operations(db: Db) {
    let (env, _held, browser, shot) = signed_in(db, OPS).await;
    env.register_pki_client("budget-buddy", "budget-tpp", "accounts").await;

    // An API key: shown once with a copy button, then only its prefix; it works at the
    // resource server until revoked.
    browser
        .goto(&env.front_url("/admin/clients/budget-buddy"))
        .await
        .unwrap();
    click(&browser, "a[href='/admin/clients/budget-buddy/api-keys']").await;
    click(&browser, "#issue button.primary").await;
    let key = element(&browser, "#api-key")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(key.starts_with("cbk_"), "{key}");
    assert!(text_of(&browser, ".warn").await.contains("only time it is shown"));
    let copy = element(&browser, "button[data-copy]").await;
    assert!(
        copy.is_displayed().await.unwrap(),
        "the copy button's script runs under the CSP"
    );
    screenshot(&browser, &shot("api-key-issued")).await;
    key_is(&env, &key, "budget-buddy", Ok(())).await;
    click(&browser, "a.button.primary").await;
    arrived_at(&browser, &env.front_url("/admin/clients/budget-buddy/api-keys")).await;
    browser.refresh().await.unwrap();
    let source = browser.source().await.unwrap();
    assert!(!source.contains(&key), "the key is never shown again");
    assert!(source.contains(&format!("{}_…", &key[..20])), "listed by its prefix");
    screenshot(&browser, &shot("api-keys")).await;
    click(&browser, "form[action$='/revoke'] button").await;
    element(&browser, "span.status.revoked").await;
    key_is(&env, &key, "budget-buddy", Err(ApiKeyFailure::Revoked)).await;
    // Rotation: a new key, and the live one keeps working through the overlap.
    click(&browser, "#issue button.primary").await;
    let first = element(&browser, "#api-key")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    click(&browser, "a.button.primary").await;
    let overlap = element(&browser, "#overlap").await;
    overlap.clear().await.unwrap();
    overlap.send_keys("600").await.unwrap();
    click(&browser, "#rotate button.primary").await;
    let second = element(&browser, "#api-key")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    click(&browser, "a.button.primary").await;
    let expiring = text_of(&browser, &format!("tr[data-key='{}']", &first[4..20])).await;
    assert!(expiring.contains("expiring"), "{expiring}");
    key_is(&env, &first, "budget-buddy", Ok(())).await;
    key_is(&env, &second, "budget-buddy", Ok(())).await;

    // A customer's grant, listed and revoked: its refresh token stops working.
    common::flow::register_tpp(&env, "wallet", "openid accounts").await;
    let wallet = env.http(Some(&env.issue("wallet")));
    let tokens = common::flow::tokens(&env, &wallet, "wallet").await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    browser
        .goto(&env.front_url("/admin/grants?client_id=wallet"))
        .await
        .unwrap();
    let row = text_of(&browser, "table.grants tbody tr").await;
    assert!(row.contains("active") && row.contains("accounts"), "{row}");
    screenshot(&browser, &shot("grants")).await;
    click(&browser, "table.grants form button").await;
    element(&browser, "table.grants span.status.revoked").await;
    let (status, body) = common::flow::refresh(&env, &wallet, "wallet", refresh_token, &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    // Every token of a client.
    click(&browser, "#revoke-all button.danger").await;
    text_becomes(&browser, "#revoke-all", "Every token issued up to").await;
    assert!(env.store.client_tokens_revoked_at("wallet").await.unwrap().is_some());

    // Signing keys: rotate, then purge the retired one, after the password again.
    let old_kid = env.jwks().await.keys[0].common.key_id.clone().unwrap();
    click(&browser, "a[href='/admin/signing-keys']").await;
    click(&browser, "form[action='/admin/signing-keys'] button").await;
    text_becomes(&browser, &format!("tr[data-kid='{old_kid}']"), "retired").await;
    screenshot(&browser, &shot("signing-keys")).await;
    click(&browser, &format!("tr[data-kid='{old_kid}'] a.danger")).await;
    arrived_at(&browser, &env.front_url("/admin/reauth")).await;
    type_into(&browser, "#password", OPS.1).await;
    click(&browser, "form[action='/admin/reauth'] button.primary").await;
    arrived_at(&browser, &env.front_url("/admin/signing-keys/")).await;
    click(&browser, "form[action$='/purge'] button.danger").await;
    arrived_at(&browser, &env.front_url("/admin/signing-keys")).await;
    text_becomes(&browser, "h1", "Token signing keys").await;
    assert!(browser
        .find_all(fantoccini::Locator::Css(&format!("tr[data-kid='{old_kid}']")))
        .await
        .unwrap()
        .is_empty());
    let started = Instant::now();
    while env
        .jwks()
        .await
        .keys
        .iter()
        .any(|k| k.common.key_id.as_deref() == Some(old_kid.as_str()))
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the purged key is still published"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    browser.close().await.unwrap();
}

on_both_databases!(operations);
