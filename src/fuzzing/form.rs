//! The `application/x-www-form-urlencoded` decoder every OAuth endpoint and page reads.

use crate::oauth::OAuthForm;

/// What a parsed form holds is what the body said: no control character other than tab, CR
/// and LF, no empty name, no repeated parameter but `resource`; and encoding it again parses
/// to the same parameters.
pub fn run(data: &[u8]) {
    let Ok(form) = OAuthForm::parse(data, &["resource"]) else {
        return;
    };
    let names = unique_names(&form);
    for name in &names {
        assert!(!name.is_empty());
        for value in form.all(name) {
            assert!(!value.is_empty(), "empty values are dropped");
            for c in name.chars().chain(value.chars()) {
                assert!(!c.is_control() || matches!(c, '\t' | '\r' | '\n'), "{c:?} got through");
            }
        }
    }
    let encoded = names
        .iter()
        .flat_map(|n| form.all(n).map(move |v| format!("{}={}", encode(n), encode(v))))
        .collect::<Vec<_>>()
        .join("&");
    let again = OAuthForm::parse(encoded.as_bytes(), &["resource"]).expect("an encoded form parses");
    assert_eq!(names, unique_names(&again));
    for name in names {
        assert!(form.all(name).eq(again.all(name)), "{name}");
    }
}

/// Parameter names in order of first appearance.
fn unique_names(form: &OAuthForm) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for name in form.names() {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn seeds() -> Vec<Vec<u8>> {
    [
        "grant_type=client_credentials&client_id=tpp1&scope=accounts+payments",
        "grant_type=authorization_code&code=abc&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk&redirect_uri=https%3A%2F%2Ftpp.example%2Fcb",
        "resource=https%3A%2F%2Frs1&resource=https%3A%2F%2Frs2&client_id=a%20b",
        "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJ.eyJ.sig",
        "token=x&token_type_hint=access_token&=&&a=",
        "a=%E2%82%AC%0A%09&b=%2B+",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}
