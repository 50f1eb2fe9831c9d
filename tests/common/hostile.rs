//! A corpus of hostile client certificates chained to the dev CA, each breaking one rule of
//! RFC 5280 path validation: built with rcgen where it can express the defect, and by editing
//! and re-signing the DER where it cannot (serial numbers, weak keys, signatures).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// The subject every corpus leaf carries, so one registration covers them all.
pub const SUBJECT: &str = "hostile-tpp";

/// RSA-1024 and P-192 public keys (generated once with OpenSSL); only the public half is
/// needed, since the certificate is re-signed by the CA and presented through a proxy.
const RSA_1024_SPKI: &str = "30819f300d06092a864886f70d010101050003818d0030818902818100b710b3051b8bdd6873b97f7e0f8c813a2ab2a9eab325b0a019891c5eebc6a56ca1dd4c56a5919046ba9582139c47693f9416878884b8c012e27406da9af65e8e077ebe2d4f5bd47fe40bfec065f2a12c2f470bd515f4aa601a30849427e54b837db4c5c465dcd5723695a2298b9934629da6fbceaecb4dd57f8b19d6c8cc7fff0203010001";
const P192_SPKI: &str = "3049301306072a8648ce3d020106082a8648ce3d03010103320004538d960b4c81b168b7ce9dde27665d94e0e2c78ac4f718344cf72bbd2fa6bcf518e7879d29aedd9536fe39664db28279";

/// One hostile certificate: the chain a client presents (leaf first, intermediates after),
/// the leaf's private key when the client can complete a handshake with it, and the
/// `ChainError` the trust store must answer (its `Debug` name, `None` when the certificate is
/// refused before chain validation, e.g. by date).
pub struct Hostile {
    pub name: &'static str,
    pub chain: Vec<CertificateDer<'static>>,
    pub key: Option<PrivateKeyDer<'static>>,
    pub chain_error: Option<&'static str>,
}

/// A certificate authority of the corpus: the dev CA or one of its subordinates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
}

impl Ca {
    /// The dev CA from its PEM files' contents.
    pub fn root(cert_pem: &str, key_pem: &str) -> Self {
        let key = KeyPair::from_pem(key_pem).unwrap();
        let der = certbound::pki::certs_from_pem(cert_pem.as_bytes()).unwrap().remove(0);
        Self {
            issuer: Issuer::from_ca_cert_pem(cert_pem, key).unwrap(),
            der,
        }
    }

    fn subordinate(&self, name: &str, params: CertificateParams) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = params;
        params.distinguished_name = dn(name);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Self {
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Issues a leaf with `params` (subject set to [`SUBJECT`]); returns it and its key.
    fn leaf(&self, params: CertificateParams) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let mut params = params;
        params.distinguished_name = dn(SUBJECT);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let pkcs8 = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.der().clone(), pkcs8)
    }

    /// Replaces the TBSCertificate fields of `cert` with `edit`'s and signs it again.
    fn resign(&self, cert: &[u8], edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> CertificateDer<'static> {
        let outer = children(content(cert));
        let mut fields = children(content(&outer[0]));
        edit(&mut fields);
        let tbs = tlv(0x30, &fields.concat());
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.issuer.key().serialize_der()).unwrap();
        let signature = key.sign(&SystemRandom::new(), &tbs).unwrap();
        let bits = [&[0u8][..], signature.as_ref()].concat();
        CertificateDer::from(tlv(0x30, &[tbs, outer[1].clone(), tlv(0x03, &bits)].concat()))
    }
}

/// Parameters of a well-formed client leaf valid for a day around now.
pub fn good_leaf() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.not_before = OffsetDateTime::now_utc() - Duration::hours(1);
    params.not_after = OffsetDateTime::now_utc() + Duration::days(1);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.serial_number = Some(vec![0x4c, 0x1e, 0x7a, 0x01].into());
    params
}

fn ca_params(constraint: BasicConstraints) -> CertificateParams {
    let mut params = good_leaf();
    params.is_ca = IsCa::Ca(constraint);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.extended_key_usages = Vec::new();
    params.not_after = OffsetDateTime::now_utc() + Duration::days(30);
    params
}

/// The well-formed control: the same shape as the corpus, refused by nothing.
pub fn control(root: &Ca) -> Hostile {
    let intermediate = root.subordinate("corpus intermediate", ca_params(BasicConstraints::Unconstrained));
    let (leaf, key) = intermediate.leaf(good_leaf());
    Hostile {
        name: "control",
        chain: vec![leaf, intermediate.der.clone()],
        key: Some(key),
        chain_error: None,
    }
}

/// Every hostile certificate of the corpus.
pub fn corpus(root: &Ca) -> Vec<Hostile> {
    let mut out = Vec::new();
    let mut add = |name, chain, key, chain_error| {
        out.push(Hostile {
            name,
            chain,
            key,
            chain_error,
        })
    };
    let direct = |params: CertificateParams| {
        let (leaf, key) = root.leaf(params);
        (vec![leaf], Some(key))
    };

    let mut no_cert_sign = ca_params(BasicConstraints::Unconstrained);
    no_cert_sign.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign];
    let weak_ca = root.subordinate("CA without keyCertSign", no_cert_sign);
    let (leaf, key) = weak_ca.leaf(good_leaf());
    add(
        "intermediate without keyCertSign",
        vec![leaf, weak_ca.der.clone()],
        Some(key),
        Some("CaKeyUsage"),
    );

    let mut cert_sign_only = good_leaf();
    cert_sign_only.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let (chain, key) = direct(cert_sign_only);
    add("leaf keyUsage keyCertSign only", chain, key, Some("LeafKeyUsage"));

    let mut constrained = good_leaf();
    constrained.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![GeneralSubtree::DnsName("bank.example".into())],
        excluded_subtrees: Vec::new(),
    });
    let (chain, key) = direct(constrained);
    add(
        "end entity with nameConstraints",
        chain,
        key,
        Some("NameConstraintsOnLeaf"),
    );

    let (good, key) = root.leaf(good_leaf());
    for (name, serial) in [
        ("empty serial", &[][..]),
        ("negative serial", &[0x80, 0x01][..]),
        ("zero serial", &[0x00][..]),
        ("serial of 21 octets", &[0x11; 21][..]),
        ("serial with a superfluous leading zero", &[0x00, 0x05][..]),
    ] {
        let edited = root.resign(&good, |f| f[1] = tlv(0x02, serial));
        add(name, vec![edited], Some(key.clone_key()), Some("BadSerial"));
    }
    for (name, spki) in [("RSA-1024 key", RSA_1024_SPKI), ("P-192 key", P192_SPKI)] {
        let edited = root.resign(&good, |f| f[6] = hex(spki));
        add(name, vec![edited], None, Some("WeakKey"));
    }
    let mut tampered = good.to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    add(
        "bad signature",
        vec![CertificateDer::from(tampered)],
        Some(key.clone_key()),
        Some("Invalid"),
    );

    let mut expired = good_leaf();
    expired.not_before = OffsetDateTime::now_utc() - Duration::days(30);
    expired.not_after = OffsetDateTime::now_utc() - Duration::days(1);
    let (chain, key) = direct(expired);
    add("expired", chain, key, Some("Expired"));

    let mut early = good_leaf();
    early.not_before = OffsetDateTime::now_utc() + Duration::days(1);
    early.not_after = OffsetDateTime::now_utc() + Duration::days(30);
    let (chain, key) = direct(early);
    add("not yet valid", chain, key, Some("NotYetValid"));

    let mut not_ca = good_leaf();
    not_ca.is_ca = IsCa::ExplicitNoCa;
    let fake_ca = root.subordinate("not a CA", not_ca);
    let (leaf, key) = fake_ca.leaf(good_leaf());
    add(
        "non-CA intermediate",
        vec![leaf, fake_ca.der.clone()],
        Some(key),
        Some("Invalid"),
    );

    let first = root.subordinate("pathLen 0", ca_params(BasicConstraints::Constrained(0)));
    let second = first.subordinate("below pathLen 0", ca_params(BasicConstraints::Unconstrained));
    let (leaf, key) = second.leaf(good_leaf());
    add(
        "pathLen exceeded",
        vec![leaf, second.der.clone(), first.der.clone()],
        Some(key),
        Some("Invalid"),
    );

    let mut critical = good_leaf();
    let mut extension = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1], vec![0x05, 0x00]);
    extension.set_criticality(true);
    critical.custom_extensions = vec![extension];
    let (chain, key) = direct(critical);
    add("unknown critical extension", chain, key, Some("Invalid"));

    let mut server_only = good_leaf();
    server_only.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let (chain, key) = direct(server_only);
    add("serverAuth-only EKU", chain, key, Some("WrongUsage"));
    out
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The content octets of one DER TLV.
fn content(der: &[u8]) -> &[u8] {
    let (header, len) = header(der);
    &der[header..header + len]
}

/// Header length and content length of the TLV at the start of `der`.
fn header(der: &[u8]) -> (usize, usize) {
    match der[1] {
        short if short < 0x80 => (2, usize::from(short)),
        long => {
            let n = usize::from(long & 0x7f);
            let len = der[2..2 + n].iter().fold(0usize, |acc, b| acc << 8 | usize::from(*b));
            (2 + n, len)
        }
    }
}

/// The TLVs (whole, header included) that `content` is made of.
fn children(mut content: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (header, len) = header(content);
        out.push(content[..header + len].to_vec());
        content = &content[header + len..];
    }
    out
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}
