use super::*;

fn dn(s: &str) -> DistinguishedName {
    DistinguishedName::parse(s).unwrap()
}

#[test]
fn case_spacing_and_attribute_names_do_not_matter() {
    assert!(dn("CN=TPP One,O=Bank,C=GB").matches(&dn("cn=tpp   one, o=BANK ,c=gb")));
    assert!(dn("CN=tpp,O=Bank").matches(&dn("2.5.4.3=tpp,organizationName=Bank")));
    assert!(dn("E=a@b.example,CN=x").matches(&dn("emailAddress=a@b.example,CN=x")));
}

#[test]
fn escapes_are_decoded_before_comparing() {
    let escaped = dn(r"CN=Bank\, Ltd,O=Example");
    assert_eq!(escaped.rdns.len(), 2);
    assert!(escaped.matches(&dn(r"CN=Bank\2C Ltd,O=Example")));
    assert!(!escaped.matches(&dn("CN=Bank,CN=Ltd,O=Example")));
    assert_eq!(escaped.to_string(), r"CN=Bank\, Ltd,O=Example");
}

#[test]
fn one_different_rdn_or_order_does_not_match() {
    let base = dn("CN=tpp,OU=payments,O=Bank,C=GB");
    assert!(!base.matches(&dn("CN=tpp,OU=accounts,O=Bank,C=GB")));
    assert!(!base.matches(&dn("CN=tpp,O=Bank,C=GB")));
    assert!(!base.matches(&dn("C=GB,O=Bank,OU=payments,CN=tpp")));
    assert!(!base.matches(&dn("CN=tpp,OU=payments,O=Bank,C=GB,DC=extra")));
}

#[test]
fn multi_valued_rdns_compare_as_sets() {
    assert!(dn("CN=a+UID=1,O=x").matches(&dn("UID=1+CN=a,O=x")));
    assert!(!dn("CN=a+UID=1,O=x").matches(&dn("CN=a,UID=1,O=x")));
}

#[test]
fn hex_values_compare_as_encoded_strings() {
    // #0c03747070 is UTF8String "tpp".
    assert!(dn("CN=#0c03747070").matches(&dn("CN=tpp")));
    assert!(DistinguishedName::parse("CN=#0c0374").is_err());
}

#[test]
fn malformed_names_are_errors() {
    for bad in ["", "CN", "FOO=bar", "CN=a\\", "CN=a;O=b", "CN=a\"b", "1.2.=x"] {
        assert!(DistinguishedName::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn long_hex_values_are_written_with_der_lengths_that_parse_back() {
    for len in [0usize, 1, 127, 128, 200, 255, 256, 1000, 70_000] {
        let name = DistinguishedName {
            rdns: vec![vec![raw_ava("2.5.4.3", 4, vec![0xa5; len])]],
        };
        let back = DistinguishedName::parse(&name.to_string()).unwrap_or_else(|e| panic!("{len}: {e}"));
        assert!(back.matches(&name), "{len}");
    }
}

#[test]
fn nul_controls_and_edge_whitespace_are_escaped() {
    let value = "\t#a\0b\u{7}c,\n ";
    let name = DistinguishedName {
        rdns: vec![vec![text_ava("2.5.4.3", value)]],
    };
    let written = name.to_string();
    assert_eq!(written, r"CN=\09#a\00b\07c\,\0a\20");
    assert_eq!(DistinguishedName::parse(&written).unwrap().rdns[0][0].display, value);
}

fn text_ava(oid: &str, value: &str) -> Ava {
    Ava {
        oid: oid.to_string(),
        text: Some(prepare(value)),
        raw: None,
        display: value.to_string(),
    }
}

fn raw_ava(oid: &str, tag: u32, data: Vec<u8>) -> Ava {
    Ava {
        oid: oid.to_string(),
        text: decode_string(tag, &data).map(|t| prepare(&t)),
        display: decode_string(tag, &data).unwrap_or_else(|| hex(&data)),
        raw: Some((tag, data)),
    }
}

mod round_trip {
    use proptest::prelude::*;

    use super::*;

    /// Characters that take every path of the writer: RFC 4514 specials, `#`, spaces, NUL and
    /// other controls, non-ASCII whitespace, and anything else.
    fn value_char() -> impl Strategy<Value = char> {
        prop_oneof![
            3 => any::<char>(),
            2 => prop::sample::select(vec![
                '"', '+', ',', ';', '<', '>', '\\', '=', '#', ' ', '\0', '\n', '\t', '\r', '\u{7f}',
                '\u{85}', '\u{a0}', '\u{2028}', '\u{3000}', 'a', 'Z', '0', 'f',
            ]),
        ]
    }

    fn oid() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(NAMES.iter().map(|(oid, _)| oid.to_string()).collect::<Vec<_>>()),
            (1u32..3, 0u32..40, 0u32..100_000).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        ]
    }

    fn ava() -> impl Strategy<Value = Ava> {
        let text = prop_oneof![
            prop::collection::vec(value_char(), 0..24),
            prop::collection::vec(value_char(), 100..400),
        ];
        // Tags certificates use for names, and some that are not strings at all.
        let tag = prop::sample::select(vec![2u32, 3, 4, 12, 19, 20, 22, 30]);
        let bytes = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..24),
            prop::collection::vec(any::<u8>(), 120..700),
        ];
        prop_oneof![
            (oid(), text).prop_map(|(oid, v)| text_ava(&oid, &v.into_iter().collect::<String>())),
            (oid(), tag, bytes).prop_map(|(oid, tag, data)| raw_ava(&oid, tag, data)),
        ]
    }

    fn name() -> impl Strategy<Value = DistinguishedName> {
        prop::collection::vec(prop::collection::vec(ava(), 1..4), 1..5).prop_map(|rdns| DistinguishedName { rdns })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

        /// A DN written, parsed and compared equals itself, and writes the same again.
        #[test]
        fn a_written_name_parses_back_to_itself(name in name()) {
            let written = name.to_string();
            let back = DistinguishedName::parse(&written)
                .map_err(|e| TestCaseError::fail(format!("{written:?}: {e}")))?;
            prop_assert!(back.matches(&name), "{written:?} parsed to {back:?}");
            prop_assert!(name.matches(&back));
            prop_assert_eq!(back.to_string(), written);
        }
    }
}
