//! Hex, the one byte-to-text encoding several parsers share (DN `#hex` values and `\XX`
//! escapes, form and header `%XX` escapes, serial numbers). Decoding takes exactly two ASCII
//! hex digits per byte: `u8::from_str_radix` alone also takes a sign (`"+f"`), which let
//! `%+1` through as a byte.

/// The byte two ASCII hex digits spell, or `None`.
pub fn hex_pair(high: u8, low: u8) -> Option<u8> {
    fn digit(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    Some(digit(high)? << 4 | digit(low)?)
}

/// Decodes an even-length string of hex digits.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes.chunks(2).map(|p| hex_pair(p[0], p[1])).collect()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_two_hex_digits_make_a_byte() {
        assert_eq!(hex_pair(b'a', b'F'), Some(0xaf));
        for (h, l) in [(b'+', b'1'), (b'-', b'1'), (b'1', b'g'), (b' ', b'1'), (b'0', b'x')] {
            assert_eq!(hex_pair(h, l), None, "{}{}", h as char, l as char);
        }
        assert_eq!(unhex("+f"), None);
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("00ff"), Some(vec![0, 255]));
        assert_eq!(hex(&[0, 0xab]), "00ab");
    }
}
