//! Each proxy's encoding of a client certificate chain in a header, both ways.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rustls_pki_types::CertificateDer;

use super::{ForwardError, ForwardFormat};
use crate::encoding::hex;
use crate::pki::{certs_from_pem, Thumbprint};

/// Decodes a header value (and, for RFC 9440, the chain header) into a DER chain, leaf first.
pub fn decode(
    format: ForwardFormat,
    value: &[u8],
    chain: Option<&[u8]>,
) -> Result<Vec<CertificateDer<'static>>, ForwardError> {
    let text = std::str::from_utf8(value).map_err(|_| ForwardError::Unparsable)?.trim();
    match format {
        ForwardFormat::Rfc9440 => {
            let mut certs = vec![sf_binary(text)?];
            if let Some(chain) = chain {
                let chain = std::str::from_utf8(chain).map_err(|_| ForwardError::Unparsable)?;
                for item in chain.split(',') {
                    certs.push(sf_binary(item.trim())?);
                }
            }
            Ok(certs)
        }
        ForwardFormat::Nginx | ForwardFormat::AwsAlb => pem_chain(&percent_decode(text)?),
        ForwardFormat::Haproxy => Ok(vec![CertificateDer::from(
            STANDARD.decode(text).map_err(|_| ForwardError::Unparsable)?,
        )]),
        ForwardFormat::Envoy => {
            let elements = split_unquoted(text, ',');
            // Several elements mean several proxies appended their view; which one describes the
            // original client depends on trusting all of them. Require Envoy to set one
            // (forward_client_cert_details: SANITIZE_SET).
            let [element] = elements.as_slice() else {
                return Err(ForwardError::Unparsable);
            };
            let field = |name: &str| {
                split_unquoted(element, ';').into_iter().find_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().trim_matches('"').to_string())
                })
            };
            match (field("Chain"), field("Cert")) {
                (Some(chain), _) => pem_chain(&percent_decode(&chain)?),
                (None, Some(cert)) => pem_chain(&percent_decode(&cert)?),
                (None, None) => Err(ForwardError::Unparsable),
            }
        }
    }
}

/// RFC 8941 byte sequence: `:base64:`.
fn sf_binary(item: &str) -> Result<CertificateDer<'static>, ForwardError> {
    let inner = item
        .strip_prefix(':')
        .and_then(|s| s.strip_suffix(':'))
        .ok_or(ForwardError::Unparsable)?;
    Ok(CertificateDer::from(
        STANDARD.decode(inner).map_err(|_| ForwardError::Unparsable)?,
    ))
}

/// `%XX` decoding only: `+` stays `+` (it is a base64 character in PEM, and ALB leaves it raw).
fn percent_decode(s: &str) -> Result<Vec<u8>, ForwardError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(ForwardError::Unparsable)?;
            out.push(crate::encoding::hex_pair(hex[0], hex[1]).ok_or(ForwardError::Unparsable)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn pem_chain(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, ForwardError> {
    certs_from_pem(pem).map_err(|_| ForwardError::Unparsable)
}

/// Splits on `sep` outside double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Encodes a chain the way each proxy does; used by tests and `certbound doctor`.
pub fn encode(format: ForwardFormat, chain: &[CertificateDer<'_>]) -> Vec<(&'static str, String)> {
    let pem = |certs: &[CertificateDer<'_>]| -> String {
        certs
            .iter()
            .map(|c| {
                let b64 = STANDARD.encode(c.as_ref());
                let lines: Vec<&str> = b64
                    .as_bytes()
                    .chunks(64)
                    .map(|l| std::str::from_utf8(l).expect("ascii"))
                    .collect();
                format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                    lines.join("\n")
                )
            })
            .collect()
    };
    let escape = |s: &str, keep: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || keep.as_bytes().contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    match format {
        ForwardFormat::Rfc9440 => {
            let mut headers = vec![("client-cert", format!(":{}:", STANDARD.encode(chain[0].as_ref())))];
            if chain.len() > 1 {
                let rest: Vec<String> = chain[1..]
                    .iter()
                    .map(|c| format!(":{}:", STANDARD.encode(c.as_ref())))
                    .collect();
                headers.push(("client-cert-chain", rest.join(", ")));
            }
            headers
        }
        ForwardFormat::Nginx => vec![("x-ssl-client-cert", escape(&pem(&chain[..1]), "-_.~"))],
        ForwardFormat::AwsAlb => vec![("x-amzn-mtls-clientcert", escape(&pem(chain), "-_.~+/="))],
        ForwardFormat::Haproxy => vec![("x-ssl-client-der", STANDARD.encode(chain[0].as_ref()))],
        ForwardFormat::Envoy => {
            let hash = hex(Thumbprint::of_der(chain[0].as_ref()).as_bytes());
            vec![(
                "x-forwarded-client-cert",
                format!(
                    "Hash={hash};Cert=\"{}\";Chain=\"{}\"",
                    escape(&pem(&chain[..1]), "-_.~"),
                    escape(&pem(chain), "-_.~")
                ),
            )]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::chain;
    use super::*;

    #[test]
    fn alb_encoding_with_raw_plus_slash_equals_decodes() {
        let chain = chain();
        let encoded = &encode(ForwardFormat::AwsAlb, &chain)[0].1;
        assert!(encoded.contains('+') || encoded.contains('/') || encoded.contains('='));
        assert_eq!(decode(ForwardFormat::AwsAlb, encoded.as_bytes(), None).unwrap(), chain);
    }

    #[test]
    fn escapes_take_exactly_two_hex_digits() {
        assert_eq!(percent_decode("a%41").unwrap(), b"aA");
        for bad in ["%+9", "%-1", "%4", "%zz"] {
            assert!(percent_decode(bad).is_err(), "{bad}");
        }
    }
}
