//! Distinguished names in their RFC 4514 string form, as operators and configuration give them.

use crate::pki::DistinguishedName;

/// A name that parses writes a string that parses back to a name matching it, and writing
/// that one gives the same string again.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(name) = DistinguishedName::parse(text) else {
        return;
    };
    let written = name.to_string();
    let back = DistinguishedName::parse(&written).unwrap_or_else(|e| panic!("{text:?} wrote {written:?}: {e}"));
    assert!(back.matches(&name) && name.matches(&back), "{text:?} wrote {written:?}");
    assert_eq!(back.to_string(), written);
}

pub fn seeds() -> Vec<Vec<u8>> {
    [
        "CN=tpp1,OU=payments,O=Bank\\, Ltd,C=GB",
        "cn=a+UID=1, o = x ",
        "CN=#0c03747070,2.5.4.97=PSDGB-FCA-123456",
        "CN=\\23hash\\20,O=\\E2\\82\\AC",
        "E=a@b.example,ORGANIZATIONIDENTIFIER=PSDGB,SERIALNUMBER=1",
        "CN=#04820100",
        "1.3.6.1.4.1.311.60.2.1.3=GB",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}
