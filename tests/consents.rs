//! Open Banking account-access consents and RFC 9396 authorization details end to end over real
//! mutual TLS: the TPP creates a consent, pushes a request naming it, the customer authorises it
//! for one account, and the demo bank answers only within the consent (accounts, permissions,
//! transaction window) until the TPP withdraws it.

mod common;

use std::time::Duration;

use common::flow::{self, Browser, ALICE};
use common::openbanking::{consent_detail, ObTpp};
use common::{jwt_payload, post_form, Db, TestEnv};
use serde_json::{json, Value};

on_both_databases!(
    a_consent_from_creation_to_withdrawal,
    a_consent_is_authorised_once_and_expires,
);

async fn bank(db: Db) -> TestEnv {
    TestEnv::start_with(db, |f| f.demo_bank = Some(true)).await
}

/// PAR naming the consent (`extra` adds parameters), then alice approving account 22289 in her
/// browser: the redirect back, the PKCE verifier and the consent page as she saw it.
async fn authorise(env: &TestEnv, tpp: &ObTpp, extra: &[(&str, &str)]) -> (flow::Page, String, flow::Page) {
    let (verifier, challenge) = flow::pkce();
    let (status, pushed) = flow::par(env, &tpp.http, &tpp.id, &challenge, extra).await;
    assert_eq!(status, 201, "{pushed}");
    let mut browser = Browser::new(env);
    let login = browser
        .authorize(&tpp.id, pushed["request_uri"].as_str().unwrap())
        .await;
    let signed_in = browser.sign_in(&login, ALICE.0, ALICE.1).await;
    let page = browser.get(signed_in.location.as_deref().unwrap()).await;
    assert_eq!(page.status, 200, "{page:?}");
    let back = browser.decide(&page, "approve", &["22289"]).await;
    (back, verifier, page)
}

async fn a_consent_from_creation_to_withdrawal(db: Db) {
    let env = bank(db).await;
    let tpp = ObTpp::register(&env, "tpp1").await;
    let token = tpp.consent_token(&env).await;

    // 1. The consent, with the TPP's interaction id echoed.
    let body = json!({
        "Data": {
            "Permissions": ["ReadAccountsDetail", "ReadTransactionsBasic", "ReadTransactionsCredits"],
            "ExpirationDateTime": "2099-01-01T00:00:00+00:00",
            "TransactionFromDateTime": "2026-01-01T00:00:00+00:00",
            "TransactionToDateTime": "2026-12-31T23:59:59+00:00",
        },
        "Risk": {},
    });
    let interaction = "93bac548-d2de-4546-b106-880a5018460d";
    let created = tpp
        .send(
            tpp.http
                .post(env.url(common::openbanking::CONSENTS))
                .header("x-fapi-interaction-id", interaction)
                .json(&body),
            &token,
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.interaction_id.as_deref(), Some(interaction));
    let data = &created.body["Data"];
    let consent_id = data["ConsentId"].as_str().unwrap().to_string();
    assert_eq!(data["Status"], "AwaitingAuthorisation");
    assert_eq!(data["ExpirationDateTime"], "2099-01-01T00:00:00Z");
    assert!(data["CreationDateTime"].is_string() && data["StatusUpdateDateTime"].is_string());
    assert_eq!(
        created.body["Links"]["Self"],
        env.url(&format!("{}/{consent_id}", common::openbanking::CONSENTS))
    );
    let read = tpp.get_consent(&env, &token, &consent_id).await;
    assert_eq!(read.status, 200);
    assert!(read.interaction_id.is_some(), "an interaction id is generated");
    assert_eq!(read.body["Data"]["Permissions"], data["Permissions"]);

    // 2. PAR naming it; the customer sees the permissions in words and the window.
    let details = consent_detail(&consent_id);
    let (back, verifier, page) = authorise(&env, &tpp, &[("authorization_details", &details)]).await;
    for words in [
        "See your accounts",
        "account numbers",
        "See your transactions",
        "Money in only",
        "Transactions from 1 January 2026 to 31 December 2026.",
    ] {
        assert!(page.body.contains(words), "{words} in {}", page.body);
    }
    assert!(!page.body.contains("See your balances"), "{}", page.body);
    let code = back.redirect_param("code").expect("a code");
    assert_eq!(
        tpp.get_consent(&env, &token, &consent_id).await.body["Data"]["Status"],
        "Authorised"
    );

    // 3. Tokens carry what was authorised: the response, the access token, the ID token.
    let (status, tokens) = flow::redeem(&env, &tpp.http, &tpp.id, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let granted = &tokens["authorization_details"][0];
    assert_eq!(granted["type"], "account_access_consent");
    assert_eq!(granted["consent_id"], consent_id.as_str());
    assert_eq!(granted["accounts"], json!(["22289"]));
    assert_eq!(granted["transaction_from_date_time"], "2026-01-01T00:00:00Z");
    let access_token = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        jwt_payload(&access_token)["authorization_details"],
        tokens["authorization_details"]
    );
    assert_eq!(
        jwt_payload(tokens["id_token"].as_str().unwrap())["openbanking_intent_id"],
        consent_id.as_str()
    );

    // 4. The bank: the consent's account only, account numbers (Detail), no balances, only
    //    credits inside the window and without descriptions (Basic).
    let accounts = tpp.bank(&env, &access_token, "/accounts").await;
    assert_eq!(accounts.status, 200, "{accounts:?}");
    let list = accounts.body["Data"]["Account"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["AccountId"], "22289");
    assert!(
        list[0]["Account"].is_array(),
        "ReadAccountsDetail shows account numbers"
    );
    let balances = tpp.bank(&env, &access_token, "/accounts/22289/balances").await;
    assert_eq!(balances.status, 403, "{balances:?}");
    assert_eq!(
        balances.body["Errors"][0]["ErrorCode"],
        "UK.OBIE.Resource.ConsentMismatch"
    );
    assert!(balances.interaction_id.is_some());
    assert_eq!(
        tpp.bank(&env, &access_token, "/accounts/31820/transactions")
            .await
            .status,
        404
    );
    let transactions = tpp.bank(&env, &access_token, "/accounts/22289/transactions").await;
    assert_eq!(transactions.status, 200, "{transactions:?}");
    let ids: Vec<&str> = transactions.body["Data"]["Transaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["TransactionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["T2"], "credits only, inside 2026");
    assert!(transactions.body["Data"]["Transaction"][0]["TransactionInformation"].is_null());

    // 5. Introspection and refresh keep the details.
    let (_, introspected) = post_form(
        &tpp.http,
        &env.url("/introspect"),
        &[("client_id", "tpp1"), ("token", &access_token)],
    )
    .await;
    assert_eq!(introspected["authorization_details"], tokens["authorization_details"]);
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let (status, refreshed) = flow::refresh(&env, &tpp.http, &tpp.id, refresh_token, &[]).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(refreshed["authorization_details"], tokens["authorization_details"]);
    let (_, introspected) = post_form(
        &tpp.http,
        &env.url("/introspect"),
        &[("client_id", "tpp1"), ("token", refresh_token)],
    )
    .await;
    assert_eq!(introspected["authorization_details"], tokens["authorization_details"]);

    // 6. Withdrawal: the consent reads Revoked, and within the revocation delay the same access
    //    token is refused by the bank and the refresh token by the token endpoint.
    let deleted = tpp.delete_consent(&env, &token, &consent_id).await;
    assert_eq!(deleted.status, 204, "{deleted:?}");
    assert!(deleted.interaction_id.is_some());
    assert_eq!(
        tpp.get_consent(&env, &token, &consent_id).await.body["Data"]["Status"],
        "Revoked"
    );
    let mut ended = false;
    for _ in 0..50 {
        let answer = tpp.bank(&env, &access_token, "/accounts").await;
        let (status, body) = flow::refresh(&env, &tpp.http, &tpp.id, refresh_token, &[]).await;
        if answer.status == 401 && (status, body["error"].as_str()) == (400, Some("invalid_grant")) {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ended, "the tokens still work after the consent was withdrawn");
    // Withdrawing again changes nothing.
    assert_eq!(tpp.delete_consent(&env, &token, &consent_id).await.status, 204);
    env.finish().await;
}

async fn a_consent_is_authorised_once_and_expires(db: Db) {
    let env = bank(db).await;
    let mut tpp = ObTpp::register(&env, "tpp1").await;
    let token = tpp.consent_token(&env).await;
    let expires = certbound::now() + 4;
    let expiry = certbound::domain::consent::format_date_time(expires).unwrap();
    let consent_id = tpp
        .create_consent(&env, &["ReadAccountsBasic"], json!({ "ExpirationDateTime": expiry }))
        .await;
    let never_used = tpp
        .create_consent(&env, &["ReadBalances"], json!({ "ExpirationDateTime": expiry }))
        .await;
    let details = consent_detail(&consent_id);

    // Two pushed requests for the same consent; the first approval authorises it, the second
    // finds it taken.
    let (v1, c1) = flow::pkce();
    let (_, first) = flow::par(&env, &tpp.http, &tpp.id, &c1, &[("authorization_details", &details)]).await;
    let (_, c2) = flow::pkce();
    let (_, second) = flow::par(&env, &tpp.http, &tpp.id, &c2, &[("authorization_details", &details)]).await;
    let mut browsers = Vec::new();
    for pushed in [&first, &second] {
        let mut browser = Browser::new(&env);
        let login = browser
            .authorize(&tpp.id, pushed["request_uri"].as_str().unwrap())
            .await;
        let signed_in = browser.sign_in(&login, ALICE.0, ALICE.1).await;
        let page = browser.get(signed_in.location.as_deref().unwrap()).await;
        assert_eq!(page.status, 200, "{page:?}");
        browsers.push((browser, page));
    }
    let (browser, page) = &mut browsers[0];
    let back = browser.decide(page, "approve", &["22289"]).await;
    let code = back.redirect_param("code").expect("a code");
    let (browser, page) = &mut browsers[1];
    // The other tab, reloaded, no longer offers the consent.
    let reloaded = browser.get(&page.form_action().replace("/consent", "")).await;
    assert_eq!(reloaded.status, 400, "{reloaded:?}");
    assert!(reloaded.body.contains("This link cannot be used"), "{}", reloaded.body);
    let again = browser.decide(page, "approve", &["22289"]).await;
    assert_eq!((again.status, again.location.as_deref()), (400, None), "{again:?}");
    assert!(again.body.contains("This link cannot be used"), "{}", again.body);
    let (status, body) = flow::par(&env, &tpp.http, &tpp.id, &c2, &[("authorization_details", &details)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_authorization_details"))
    );

    // A consent needs an account even when the scope alone would not; denying rejects it, and a
    // rejected consent cannot be named again.
    let denied = tpp.create_consent(&env, &["ReadBalances"], json!({})).await;
    let (_, c3) = flow::pkce();
    let scope_openid = [
        ("authorization_details", consent_detail(&denied)),
        ("scope", "openid".into()),
    ];
    let form: Vec<(&str, &str)> = scope_openid.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, pushed) = flow::par(&env, &tpp.http, &tpp.id, &c3, &form).await;
    assert_eq!(status, 201, "{pushed}");
    let mut browser = Browser::new(&env);
    let login = browser
        .authorize(&tpp.id, pushed["request_uri"].as_str().unwrap())
        .await;
    let signed_in = browser.sign_in(&login, ALICE.0, ALICE.1).await;
    let page = browser.get(signed_in.location.as_deref().unwrap()).await;
    let none_chosen = browser.decide(&page, "approve", &[]).await;
    assert_eq!(none_chosen.status, 400, "{none_chosen:?}");
    assert!(
        none_chosen.body.contains("Choose at least one account"),
        "{}",
        none_chosen.body
    );
    let back = browser.decide(&none_chosen, "deny", &[]).await;
    assert_eq!(
        back.redirect_param("error").as_deref(),
        Some("access_denied"),
        "{back:?}"
    );
    assert_eq!(
        tpp.get_consent(&env, &token, &denied).await.body["Data"]["Status"],
        "Rejected"
    );
    let (status, body) = flow::par(&env, &tpp.http, &tpp.id, &c3, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_authorization_details"))
    );

    // The token ends with the consent.
    let (status, tokens) = flow::redeem(&env, &tpp.http, &tpp.id, &code, &v1).await;
    assert_eq!(status, 200, "{tokens}");
    let access_token = tokens["access_token"].as_str().unwrap();
    let exp = jwt_payload(access_token)["exp"].as_i64().unwrap();
    assert!(exp <= expires);
    assert!(tokens["expires_in"].as_i64().unwrap() <= expires - jwt_payload(access_token)["iat"].as_i64().unwrap());
    let accounts = tpp.bank(&env, access_token, "/accounts").await;
    assert_eq!(accounts.status, 200, "{accounts:?}");
    assert!(
        accounts.body["Data"]["Account"][0]["Account"].is_null(),
        "ReadAccountsBasic shows no account numbers: {accounts:?}"
    );
    let wait = (expires - certbound::now() + 6).max(0) as u64;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    // The server has closed the idle connection meanwhile: a new client.
    tpp.reconnect(&env);
    let answer = tpp.bank(&env, access_token, "/accounts").await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(
        tpp.get_consent(&env, &token, &consent_id).await.body["Data"]["Status"],
        "Expired"
    );
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(flow::refresh(&env, &tpp.http, &tpp.id, refresh_token, &[]).await.0, 400);
    // An expired consent that was never authorised cannot be any more.
    assert_eq!(
        tpp.get_consent(&env, &token, &never_used).await.body["Data"]["Status"],
        "Expired"
    );
    let (_, challenge) = flow::pkce();
    let (status, body) = flow::par(
        &env,
        &tpp.http,
        &tpp.id,
        &challenge,
        &[("authorization_details", &consent_detail(&never_used))],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_authorization_details")),
        "{body}"
    );
    env.finish().await;
}

/// The consent resource and PAR refusing what they must.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_consents_and_details_are_refused() {
    let env = bank(Db::Sqlite).await;
    let tpp = ObTpp::register(&env, "tpp1").await;
    let other = ObTpp::register(&env, "tpp2").await;
    let token = tpp.consent_token(&env).await;
    let post = |body: Value| tpp.post_consent_raw(&env, &token, body.to_string().into_bytes());

    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (
            json!({"Data": {"Permissions": ["ReadTransactionsDetail"]}, "Risk": {}}),
            "UK.OBIE.Field.Invalid",
            Some("Data.Permissions"),
        ),
        (
            json!({"Data": {"Permissions": ["ReadTransactionsDebits"]}, "Risk": {}}),
            "UK.OBIE.Field.Invalid",
            Some("Data.Permissions"),
        ),
        (
            json!({"Data": {"Permissions": []}, "Risk": {}}),
            "UK.OBIE.Field.Invalid",
            Some("Data.Permissions"),
        ),
        (
            json!({"Data": {"Permissions": ["ReadEverything"]}, "Risk": {}}),
            "UK.OBIE.Field.Invalid",
            Some("Data.Permissions"),
        ),
        (
            json!({"Data": {"Permissions": ["ReadBalances", "ReadBalances"]}, "Risk": {}}),
            "UK.OBIE.Field.Invalid",
            Some("Data.Permissions"),
        ),
        (
            json!({"Data": {"Permissions": "ReadBalances"}, "Risk": {}}),
            "UK.OBIE.Field.Invalid",
            Some("Data.Permissions"),
        ),
        (
            json!({"Data": {}, "Risk": {}}),
            "UK.OBIE.Field.Missing",
            Some("Data.Permissions"),
        ),
        (json!({"Risk": {}}), "UK.OBIE.Field.Missing", Some("Data")),
        (
            json!({"Data": {"Permissions": ["ReadBalances"]}}),
            "UK.OBIE.Field.Missing",
            Some("Risk"),
        ),
        (
            json!({"Data": {"Permissions": ["ReadBalances"], "ExpirationDateTime": "2001-01-01T00:00:00Z"}, "Risk": {}}),
            "UK.OBIE.Field.InvalidDate",
            Some("Data.ExpirationDateTime"),
        ),
        (
            json!({"Data": {"Permissions": ["ReadBalances"], "ExpirationDateTime": "tomorrow"}, "Risk": {}}),
            "UK.OBIE.Field.InvalidDate",
            Some("Data.ExpirationDateTime"),
        ),
        (
            json!({"Data": {"Permissions": ["ReadBalances"], "TransactionFromDateTime": "2026-02-01T00:00:00Z", "TransactionToDateTime": "2026-01-01T00:00:00Z"}, "Risk": {}}),
            "UK.OBIE.Field.Invalid",
            Some("Data.TransactionToDateTime"),
        ),
        (
            json!({"Data": {"Permissions": ["ReadBalances"], "Accounts": ["22289"]}, "Risk": {}}),
            "UK.OBIE.Field.Unexpected",
            Some("Data.Accounts"),
        ),
        (json!([1, 2]), "UK.OBIE.Resource.InvalidFormat", None),
    ];
    for (body, code, path) in cases {
        let answer = post(body.clone()).await;
        assert_eq!(answer.status, 400, "{body} → {answer:?}");
        let error = &answer.body["Errors"][0];
        assert_eq!(error["ErrorCode"], code, "{body} → {answer:?}");
        assert_eq!(error["Path"].as_str(), path, "{body} → {answer:?}");
        assert!(answer.body["Id"].is_string() && answer.body["Code"].is_string());
        assert!(answer.interaction_id.is_some());
    }
    let text = tpp
        .send(tpp.http.post(env.url(common::openbanking::CONSENTS)).body("{}"), &token)
        .await;
    assert_eq!(
        text.body["Errors"][0]["ErrorCode"], "UK.OBIE.Header.Invalid",
        "{text:?}"
    );
    let bad_id = tpp
        .send(
            tpp.http
                .get(env.url(&format!("{}/x", common::openbanking::CONSENTS)))
                .header("x-fapi-interaction-id", "not-a-uuid\tx"),
            &token,
        )
        .await;
    assert_eq!(bad_id.status, 400);
    assert_eq!(bad_id.body["Errors"][0]["ErrorCode"], "UK.OBIE.Header.Invalid");
    assert_ne!(bad_id.interaction_id.as_deref(), Some("not-a-uuid\tx"));
    let no_token = tpp
        .http
        .get(env.url(common::openbanking::CONSENTS))
        .send()
        .await
        .unwrap();
    assert!(no_token.headers().contains_key("x-fapi-interaction-id"));

    // Another client's consent answers exactly like an unknown one.
    let mine = tpp.create_consent(&env, &["ReadBalances"], json!({})).await;
    let other_token = other.consent_token(&env).await;
    let foreign = other.get_consent(&env, &other_token, &mine).await;
    let unknown = other
        .get_consent(&env, &other_token, "aac-93bac548-d2de-4546-b106-880a5018460d")
        .await;
    assert_eq!(foreign.status, 403);
    assert_eq!(
        (foreign.status, &foreign.body["Errors"]),
        (unknown.status, &unknown.body["Errors"])
    );
    assert_eq!(other.delete_consent(&env, &other_token, &mine).await.status, 403);
    assert_eq!(
        tpp.get_consent(&env, &token, &mine).await.body["Data"]["Status"],
        "AwaitingAuthorisation"
    );

    // At PAR: another client's consent, unknown types, types the client did not register,
    // objects outside their schema, malformed arrays.
    let (_, challenge) = flow::pkce();
    let foreign_details = consent_detail(&mine);
    let payment = json!([{"type": "payment_initiation", "instructedAmount": {"currency": "EUR", "amount": "12.50"},
        "creditorName": "Merchant A", "creditorAccount": {"iban": "DE02100100109307118603"}}]);
    let mut bad_amount = payment.clone();
    bad_amount[0]["instructedAmount"]["amount"] = json!("-1");
    let refused: [(String, &str); 7] = [
        (foreign_details.clone(), "not awaiting authorisation"),
        (
            json!([{"type": "crypto_custody", "wallet": "x"}]).to_string(),
            "unknown authorization_details type",
        ),
        (
            json!([{"type": "account_access_consent", "consent_id": mine, "accounts": ["22289"]}]).to_string(),
            "does not match its type",
        ),
        (bad_amount.to_string(), "does not match its type"),
        ("[]".into(), "between 1 and 16"),
        ("{\"type\":\"payment_initiation\"}".into(), "must be a JSON array"),
        ("not json".into(), "must be a JSON array"),
    ];
    for (details, why) in &refused {
        let (status, body) = flow::par(
            &env,
            &other.http,
            &other.id,
            &challenge,
            &[("authorization_details", details)],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_authorization_details")),
            "{details}: {body}"
        );
        assert!(
            body["error_description"].as_str().unwrap().contains(why),
            "{details}: {body}"
        );
    }
    // A client not registered for the type.
    let plain = flow::register_tpp(&env, "plain", "openid accounts").await;
    let plain_http = env.http(Some(&env.issue("plain")));
    let (status, body) = flow::par(
        &env,
        &plain_http,
        &plain.client_id,
        &challenge,
        &[("authorization_details", &payment.to_string())],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_authorization_details")),
        "{body}"
    );
    assert!(
        body["error_description"].as_str().unwrap().contains("not registered"),
        "{body}"
    );
    // The payment example is accepted, and shown to the customer.
    let (status, body) = flow::par(
        &env,
        &tpp.http,
        &tpp.id,
        &challenge,
        &[("authorization_details", &payment.to_string())],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    env.finish().await;
}

/// The consent named the UK Open Banking way, as `openbanking_intent_id` in a signed request
/// object's `claims`; a token request cannot swap in another consent, and one that narrows the
/// details to leave the consent out gets no account access.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intent_id_in_a_request_object_and_narrowed_details() {
    let env = bank(Db::Sqlite).await;
    let key = common::tpp::signing_key();
    let tpp = ObTpp::register_with(&env, "tpp1", |c| c.jwks = Some(key.jwks())).await;
    let payment = json!({"type": "payment_initiation", "instructedAmount": {"currency": "GBP", "amount": "5.00"},
        "creditorName": "Corner Shop", "creditorAccount": {"iban": "GB29NWBK60161331926819"}});
    // A signed request naming `consent_id` as the intent, with the payment beside it; alice
    // approves account 22289. Returns the code and its verifier.
    let authorise = |consent_id: String| {
        let (env, tpp, key, payment) = (&env, &tpp, &key, payment.clone());
        async move {
            let (verifier, challenge) = flow::pkce();
            let now = certbound::now();
            let claims = json!({
                "iss": "tpp1", "aud": env.issuer(), "client_id": "tpp1", "nbf": now, "exp": now + 300,
                "response_type": "code", "redirect_uri": flow::REDIRECT_URI, "scope": "openid accounts",
                "code_challenge": challenge, "code_challenge_method": "S256",
                "authorization_details": [payment],
                "claims": {"id_token": {"openbanking_intent_id": {"value": consent_id, "essential": true}}},
            });
            let request = key.sign(Some("oauth-authz-req+jwt"), &claims);
            let form = [("client_id", "tpp1"), ("request", request.as_str())];
            let (status, pushed) = post_form(&tpp.http, &env.url("/par"), &form).await;
            assert_eq!(status, 201, "{pushed}");
            let back = flow::approve(env, "tpp1", pushed["request_uri"].as_str().unwrap(), ALICE, &["22289"]).await;
            (back.redirect_param("code").expect("a code"), verifier)
        }
    };
    let redeem = |code: String, verifier: String, details: Option<String>| {
        let (env, tpp) = (&env, &tpp);
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code".to_string()),
                ("client_id", "tpp1".to_string()),
                ("code", code),
                ("redirect_uri", flow::REDIRECT_URI.to_string()),
                ("code_verifier", verifier),
            ];
            form.extend(details.map(|d| ("authorization_details", d)));
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(&tpp.http, &env.url("/token"), &form).await
        }
    };
    let token = tpp.consent_token(&env).await;

    // Swapping in another consent at the token endpoint is refused (and burns the code).
    let first = tpp
        .create_consent(&env, &["ReadAccountsBasic", "ReadBalances"], json!({}))
        .await;
    let other = tpp.create_consent(&env, &["ReadAccountsDetail"], json!({})).await;
    let (code, verifier) = authorise(first.clone()).await;
    let (status, body) = redeem(code, verifier, Some(consent_detail(&other))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_authorization_details")),
        "{body}"
    );
    assert_eq!(
        tpp.get_consent(&env, &token, &first).await.body["Data"]["Status"],
        "Authorised"
    );
    assert_eq!(
        tpp.get_consent(&env, &token, &other).await.body["Data"]["Status"],
        "AwaitingAuthorisation"
    );

    // A consent with balances only: no account list, no transactions.
    let balances_only = tpp.create_consent(&env, &["ReadBalances"], json!({})).await;
    let (code, verifier) = authorise(balances_only).await;
    let (status, tokens) = redeem(code, verifier, None).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["authorization_details"][0], payment);
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(tpp.bank(&env, access_token, "/accounts").await.status, 403);
    assert_eq!(
        tpp.bank(&env, access_token, "/accounts/22289/transactions")
            .await
            .status,
        403
    );
    assert_eq!(
        tpp.bank(&env, access_token, "/accounts/22289/balances").await.status,
        200
    );
    // The customer's token does not manage consents.
    assert_eq!(tpp.get_consent(&env, access_token, &first).await.status, 403);

    // Narrowed to the payment alone, a refreshed token reaches no account.
    let narrowed = json!([{"type": "payment_initiation", "creditorName": "Corner Shop"}]).to_string();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let (status, refreshed) = flow::refresh(
        &env,
        &tpp.http,
        &tpp.id,
        refresh_token,
        &[("authorization_details", &narrowed)],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(refreshed["authorization_details"], json!([payment]));
    let narrow_token = refreshed["access_token"].as_str().unwrap();
    let accounts = tpp.bank(&env, narrow_token, "/accounts").await;
    assert_eq!(accounts.body["Data"]["Account"], json!([]), "{accounts:?}");
    assert_eq!(
        tpp.bank(&env, narrow_token, "/accounts/22289/balances").await.status,
        404
    );
    env.finish().await;
}

/// Random malformed bodies never get a 500 or a panic, only Open Banking errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_consent_bodies_get_errors_never_500() {
    let env = bank(Db::Sqlite).await;
    let tpp = ObTpp::register(&env, "tpp1").await;
    let token = tpp.consent_token(&env).await;
    let good = json!({"Data": {"Permissions": ["ReadTransactionsBasic", "ReadTransactionsDebits"],
        "ExpirationDateTime": "2099-01-01T00:00:00+00:00", "TransactionFromDateTime": "2026-01-01T00:00:00+00:00"},
        "Risk": {}})
    .to_string()
    .into_bytes();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let fragments: [&[u8]; 12] = [
        b"null",
        b"\"\\u0000\"",
        b"1e999999",
        b"-0",
        b"[[[[[[[[[[",
        b"{\"Permissions\":{}}",
        b"\"\xff\xfe\"",
        b"\"2026-13-45T99:99:99+99:99\"",
        b"true",
        b"\"ReadTransactionsCredits\"",
        b"}",
        b"\"Risk\"",
    ];
    let mut statuses = std::collections::BTreeMap::new();
    for round in 0..300 {
        let mut body = good.clone();
        for _ in 0..=(next() % 3) {
            let at = (next() as usize) % (body.len() + 1);
            match next() % 4 {
                0 => body.truncate(at),
                1 => {
                    let end = (at + (next() as usize) % 12).min(body.len());
                    body.drain(at..end);
                }
                2 => {
                    let fragment = fragments[(next() as usize) % fragments.len()];
                    body.splice(at..at, fragment.iter().copied());
                }
                _ => {
                    if at < body.len() {
                        body[at] = (next() % 256) as u8;
                    }
                }
            }
        }
        if round == 0 {
            // Over the 16 KiB limit: 413, sent before the body is read, so the server may close
            // the connection while the client is still writing; never anything else. On a
            // connection of its own, so the shared one stays usable.
            let fresh = env.http(Some(&tpp.cert));
            let sent = fresh
                .post(env.url(common::openbanking::CONSENTS))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(vec![b'['; 100_000])
                .send()
                .await;
            if let Ok(response) = sent {
                assert_eq!(response.status(), 413);
            }
            continue;
        }
        let answer = tpp.post_consent_raw(&env, &token, body.clone()).await;
        assert!(
            [201, 400, 413].contains(&answer.status),
            "{} → {answer:?}",
            String::from_utf8_lossy(&body)
        );
        if answer.status == 400 {
            assert!(answer.body["Errors"][0]["ErrorCode"].is_string(), "{answer:?}");
        }
        *statuses.entry(answer.status).or_insert(0) += 1;
    }
    assert!(statuses.get(&400).copied().unwrap_or(0) > 100, "{statuses:?}");
    env.finish().await;
}

/// An operator's own type, described by a JSON Schema file: advertised in metadata, accepted when
/// an object matches, refused when it does not; a schema that is not one stops the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_type_from_a_schema_file() {
    let schemas = tempfile::tempdir().unwrap();
    let schema = schemas.path().join("tax_filing.json");
    std::fs::write(
        &schema,
        json!({
            "type": "object", "required": ["type", "year"], "additionalProperties": false,
            "properties": {"type": {"const": "tax_filing"}, "year": {"type": "integer", "minimum": 2000, "maximum": 2100}},
        })
        .to_string(),
    )
    .unwrap();
    let configured = std::collections::BTreeMap::from([("tax_filing".to_string(), schema.clone())]);
    let env = TestEnv::start_with(Db::Sqlite, |f| f.authorization_details_types = Some(configured.clone())).await;
    let metadata: Value = env
        .http(None)
        .get(env.front_url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["authorization_details_types_supported"],
        json!(["account_access_consent", "payment_initiation", "tax_filing"])
    );
    let tpp = ObTpp::register_with(&env, "tpp1", |c| {
        c.authorization_details_types = vec!["tax_filing".into()]
    })
    .await;
    let (_, challenge) = flow::pkce();
    let par = |details: Value| {
        let (env, tpp, challenge) = (&env, &tpp, challenge.clone());
        async move {
            let details = details.to_string();
            flow::par(
                env,
                &tpp.http,
                &tpp.id,
                &challenge,
                &[("authorization_details", &details)],
            )
            .await
        }
    };
    assert_eq!(par(json!([{"type": "tax_filing", "year": 2026}])).await.0, 201);
    let (status, body) = par(json!([{"type": "tax_filing", "year": 1066}])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_authorization_details"))
    );
    // Registered on the server but not for this client.
    let (status, body) = par(json!([{"type": "payment_initiation"}])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_authorization_details"))
    );
    env.finish().await;

    std::fs::write(&schema, r#"{"type": "no-such-type"}"#).unwrap();
    let mut file = certbound::config::FileConfig {
        data_dir: Some(schemas.path().join("data")),
        listen: Some("127.0.0.1:0".into()),
        mtls_listen: Some("none".into()),
        database_url: Some(format!("sqlite://{}/t.db?mode=rwc", schemas.path().display()).into()),
        ..Default::default()
    };
    file.authorization_details_types = Some(configured);
    let settings = certbound::config::Settings::resolve(file, |_| None).unwrap();
    let error = certbound::server::start(settings)
        .await
        .err()
        .expect("an invalid schema stops the server");
    assert!(error.to_string().contains("tax_filing"), "{error}");
}
