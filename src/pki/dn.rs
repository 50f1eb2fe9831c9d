//! Distinguished names: the RFC 4514 string form, and comparison by RFC 4517
//! `distinguishedNameMatch` (RDN by RDN, attribute by OID, values by their matching rule), so
//! that attribute-name spelling, escaping, spacing and case never decide a match.

use std::fmt;

use x509_parser::prelude::X509Name;

use crate::encoding::{hex, hex_pair, unhex};

/// `(OID, RFC 4514 short name)` for the attribute types certbound names; others are written as
/// dotted OIDs, which the parser also accepts.
const NAMES: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.4", "SN"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.12", "TITLE"),
    ("2.5.4.42", "GIVENNAME"),
    ("2.5.4.97", "ORGANIZATIONIDENTIFIER"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("1.2.840.113549.1.9.1", "EMAILADDRESS"),
];

/// Aliases seen in OpenSSL and Java output.
const ALIASES: &[(&str, &str)] = &[
    ("E", "1.2.840.113549.1.9.1"),
    ("S", "2.5.4.8"),
    ("COMMONNAME", "2.5.4.3"),
    ("ORGANIZATIONNAME", "2.5.4.10"),
    ("ORGANIZATIONALUNITNAME", "2.5.4.11"),
    ("COUNTRYNAME", "2.5.4.6"),
];

/// One attribute of an RDN. `text` holds the value prepared for caseIgnoreMatch (RFC 4518:
/// surrounding spaces removed, inner runs of spaces collapsed, case folded); `raw` holds
/// `(tag, content)` for values given in `#hex` form or not decodable as a string.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ava {
    oid: String,
    text: Option<String>,
    raw: Option<(u32, Vec<u8>)>,
    display: String,
}

/// A parsed distinguished name, most significant RDN first (the order of the certificate).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DistinguishedName {
    rdns: Vec<Vec<Ava>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid distinguished name: {0}")]
pub struct DnParseError(&'static str);

impl DistinguishedName {
    /// Reads a certificate's subject or issuer. An attribute type that is no OID (an empty
    /// one, say, which x509-parser lets through), or a value whose tag needs more than one
    /// octet (no string type does), is an error: such a name could not be written as a string
    /// that reads back the same.
    pub fn from_x509(name: &X509Name<'_>) -> Result<Self, DnParseError> {
        let rdns = name
            .iter()
            .map(|rdn| {
                rdn.iter()
                    .map(|atv| {
                        let oid = atv.attr_type().to_id_string();
                        if !is_dotted_oid(&oid) {
                            return Err(DnParseError("attribute type is not an OID"));
                        }
                        let value = atv.attr_value();
                        let tag = value.header.tag().0;
                        if tag >= 0x1f {
                            return Err(DnParseError("attribute value with a multi-octet tag"));
                        }
                        let text = decode_string(tag, value.data);
                        Ok(Ava {
                            oid,
                            display: text.clone().unwrap_or_else(|| hex(value.data)),
                            text: text.map(|t| prepare(&t)),
                            raw: Some((tag, value.data.to_vec())),
                        })
                    })
                    .collect()
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { rdns })
    }

    /// Parses the RFC 4514 string form ("CN=tpp,O=Bank\, Ltd,C=GB": least significant first).
    pub fn parse(s: &str) -> Result<Self, DnParseError> {
        let mut rdns = Vec::new();
        let mut rdn = Vec::new();
        let mut chars = s.trim().chars().peekable();
        if chars.peek().is_none() {
            return Err(DnParseError("empty"));
        }
        loop {
            let mut attr = String::new();
            let mut has_value = false;
            for c in chars.by_ref() {
                if c == '=' {
                    has_value = true;
                    break;
                }
                attr.push(c);
            }
            if !has_value {
                return Err(DnParseError("attribute without '='"));
            }
            let oid = attribute_oid(attr.trim()).ok_or(DnParseError("unknown attribute type"))?;
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            let (ava, end) = parse_value(oid, &mut chars)?;
            rdn.push(ava);
            match end {
                Some('+') => continue,
                Some(_) => {
                    rdns.push(std::mem::take(&mut rdn));
                }
                None => {
                    rdns.push(rdn);
                    break;
                }
            }
        }
        rdns.reverse();
        Ok(Self { rdns })
    }

    /// The most specific commonName (2.5.4.3) the name holds, as decoded: a default label for
    /// whatever the certificate identifies.
    pub fn common_name(&self) -> Option<&str> {
        self.rdns
            .iter()
            .rev()
            .flatten()
            .find(|ava| ava.oid == "2.5.4.3" && ava.text.is_some())
            .map(|ava| ava.display.as_str())
    }

    /// RFC 4517 distinguishedNameMatch: same number of RDNs, each RDN the same set of
    /// attributes, each value equal under its matching rule.
    pub fn matches(&self, other: &Self) -> bool {
        self.rdns.len() == other.rdns.len() && self.rdns.iter().zip(&other.rdns).all(|(a, b)| rdn_matches(a, b))
    }
}

fn rdn_matches(a: &[Ava], b: &[Ava]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| b.iter().any(|y| ava_matches(x, y)))
        && b.iter().all(|y| a.iter().any(|x| ava_matches(x, y)))
}

fn ava_matches(a: &Ava, b: &Ava) -> bool {
    if a.oid != b.oid {
        return false;
    }
    match (&a.text, &b.text, &a.raw, &b.raw) {
        (Some(x), Some(y), _, _) => x == y,
        (_, _, Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Dotted decimal, as an OID is written in a DN string (RFC 4512 §1.4 `numericoid`).
fn is_dotted_oid(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn attribute_oid(name: &str) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    if name.chars().next()?.is_ascii_digit() {
        return is_dotted_oid(name).then(|| name.to_string());
    }
    let upper = name.to_ascii_uppercase();
    NAMES
        .iter()
        .find(|(_, n)| *n == upper)
        .map(|(oid, _)| oid.to_string())
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(n, _)| *n == upper)
                .map(|(_, oid)| oid.to_string())
        })
}

/// Reads one value up to an unescaped `,` or `+` (returned) or the end (`None`).
fn parse_value(
    oid: String,
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<(Ava, Option<char>), DnParseError> {
    if chars.peek() == Some(&'#') {
        chars.next();
        let mut hexstr = String::new();
        let mut end = None;
        for c in chars.by_ref() {
            if c == ',' || c == '+' {
                end = Some(c);
                break;
            }
            hexstr.push(c);
        }
        let bytes = unhex(hexstr.trim()).ok_or(DnParseError("bad #hex value"))?;
        let raw = parse_der_value(&bytes).ok_or(DnParseError("#hex value is not DER"))?;
        let text = decode_string(raw.0, &raw.1);
        let ava = Ava {
            oid,
            display: text.clone().unwrap_or_else(|| hex(&raw.1)),
            text: text.map(|t| prepare(&t)),
            raw: Some(raw),
        };
        return Ok((ava, end));
    }
    let mut bytes = Vec::new();
    let mut end = None;
    let mut trailing_escaped = 0usize;
    while let Some(c) = chars.next() {
        match c {
            ',' | '+' => {
                end = Some(c);
                break;
            }
            '\\' => {
                let next = chars.next().ok_or(DnParseError("dangling escape"))?;
                if next.is_ascii_hexdigit() {
                    let low = chars.next().ok_or(DnParseError("bad hex escape"))?;
                    let byte = u8::try_from(low).ok().and_then(|low| hex_pair(next as u8, low));
                    bytes.push(byte.ok_or(DnParseError("bad hex escape"))?);
                } else {
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
                }
                trailing_escaped = bytes.len();
            }
            '"' | ';' | '<' | '>' | '=' => return Err(DnParseError("unescaped special character")),
            _ => {
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    // Unescaped trailing spaces are not part of the value (RFC 4514 §3).
    while bytes.len() > trailing_escaped && bytes.last() == Some(&b' ') {
        bytes.pop();
    }
    let value = String::from_utf8(bytes).map_err(|_| DnParseError("value is not UTF-8"))?;
    let ava = Ava {
        oid,
        text: Some(prepare(&value)),
        raw: None,
        display: value,
    };
    Ok((ava, end))
}

/// Decodes the ASN.1 string types used in names.
fn decode_string(tag: u32, data: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, NumericString, PrintableString, IA5String, VisibleString
        12 | 18 | 19 | 22 | 26 => String::from_utf8(data.to_vec()).ok(),
        // TeletexString: in practice Latin-1
        20 => Some(data.iter().map(|&b| b as char).collect()),
        // BMPString: UTF-16BE
        30 if data.len() % 2 == 0 => {
            let units: Vec<u16> = data.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// RFC 4518 string preparation for caseIgnoreMatch, reduced to what matters for names in
/// certificates: insignificant space handling and case folding.
fn prepare(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Parses a single-byte-tag, definite-length DER TLV as `(tag, content)`.
fn parse_der_value(bytes: &[u8]) -> Option<(u32, Vec<u8>)> {
    let (&tag, rest) = bytes.split_first()?;
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = if len0 < 0x80 {
        (len0 as usize, rest)
    } else {
        let n = (len0 & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() == len).then(|| ((tag & 0x1f) as u32, rest.to_vec()))
}

/// RFC 4514 §2.4 escaping, so that [`DistinguishedName::parse`] reads back the same value: the
/// special characters get a backslash; NUL, other control characters, and whitespace at either
/// end (which parsing would trim) are written as `\XX` hex escapes of their UTF-8 bytes.
fn escape(value: &str, out: &mut String) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let at_edge = i == 0 || i == last;
        if c.is_control() || (at_edge && c.is_whitespace()) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push('\\');
                out.push_str(&hex(&[b]));
            }
            continue;
        }
        if matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=') || (i == 0 && c == '#') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// A DER TLV for a `#hex` value: a one-byte tag and a definite length (X.690 §8.1.3: short
/// form below 128, else the fewest length octets).
fn der_value(tag: u32, data: &[u8]) -> String {
    let mut tlv = vec![(tag & 0x1f) as u8];
    let len = data.len();
    if len < 0x80 {
        tlv.push(len as u8);
    } else {
        let octets = len.to_be_bytes();
        let first = octets.iter().position(|&b| b != 0).unwrap_or(octets.len() - 1);
        tlv.push(0x80 | (octets.len() - first) as u8);
        tlv.extend_from_slice(&octets[first..]);
    }
    tlv.extend_from_slice(data);
    hex(&tlv)
}

/// The RFC 4514 string form, least significant RDN first.
impl fmt::Display for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for (i, rdn) in self.rdns.iter().rev().enumerate() {
            if i > 0 {
                out.push(',');
            }
            for (j, ava) in rdn.iter().enumerate() {
                if j > 0 {
                    out.push('+');
                }
                match NAMES.iter().find(|(oid, _)| *oid == ava.oid) {
                    Some((_, name)) => out.push_str(name),
                    None => out.push_str(&ava.oid),
                }
                out.push('=');
                match (&ava.raw, ava.display.is_empty()) {
                    (Some((tag, data)), _) if decode_string(*tag, data).is_none() => {
                        out.push('#');
                        out.push_str(&der_value(*tag, data));
                    }
                    _ => escape(&ava.display, &mut out),
                }
            }
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests;
