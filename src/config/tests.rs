//! Resolving settings: defaults, environment over file, refused values.

use super::*;

#[test]
fn defaults_run_from_the_data_dir() {
    let s = Settings::resolve(FileConfig::default(), |_| None).unwrap();
    assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(s.mtls.unwrap().listen.to_string(), DEFAULT_MTLS_LISTEN);
    let single = Settings::resolve(FileConfig::default(), |k| {
        (k == "CERTBOUND_MTLS_LISTEN").then(|| "none".into())
    });
    assert!(single.unwrap().mtls.is_none());
    assert_eq!(&*s.database_url, "sqlite://certbound-data/certbound.db?mode=rwc");
    assert_eq!(s.trust_anchor_files, vec![PathBuf::from("certbound-data/pki/ca.pem")]);
    assert_eq!(s.access_token_ttl, 300);
    assert_eq!(s.signing_alg, SigningAlg::Es256);
}

#[test]
fn environment_overrides_file() {
    let file: FileConfig =
        toml::from_str("listen = \"127.0.0.1:1\"\naccess_token_ttl = 60\nsigning_alg = \"EdDSA\"").unwrap();
    let s = Settings::resolve(file, |k| match k {
        "CERTBOUND_LISTEN" => Some("127.0.0.1:2".into()),
        "CERTBOUND_ACCESS_TOKEN_TTL" => Some("30".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(s.listen.port(), 2);
    assert_eq!(s.access_token_ttl, 30);
    assert_eq!(s.signing_alg, SigningAlg::EdDsa);
}

#[test]
fn bad_values_are_rejected() {
    assert!(toml::from_str::<FileConfig>("nonsense = 1").is_err());
    for (k, v) in [
        ("CERTBOUND_LISTEN", "localhost"),
        ("CERTBOUND_ACCESS_TOKEN_TTL", "0"),
        ("CERTBOUND_SIGNING_ALG", "HS256"),
        ("CERTBOUND_LOG_FORMAT", "xml"),
    ] {
        let r = Settings::resolve(FileConfig::default(), |x| (x == k).then(|| v.to_string()));
        assert!(r.is_err(), "{k}={v}");
    }
}
