//! How a listener's forwarding is configured: the proxy's format, the header it uses, and the
//! proxies trusted to set it.

use std::net::IpAddr;
use std::str::FromStr;

use serde::Deserialize;

/// How a proxy encodes the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardFormat {
    /// RFC 9440 `Client-Cert: :BASE64-DER:` and `Client-Cert-Chain`.
    Rfc9440,
    /// nginx `$ssl_client_escaped_cert`: URL-escaped PEM (default header `X-SSL-Client-Cert`).
    Nginx,
    /// Envoy `X-Forwarded-Client-Cert` with `Cert="…"` and optionally `Chain="…"`.
    Envoy,
    /// AWS ALB `X-Amzn-Mtls-Clientcert`: URL-encoded PEM chain that leaves `+`, `/`, `=` raw.
    AwsAlb,
    /// HAProxy `ssl_c_der,base64` (default header `X-SSL-Client-Der`).
    Haproxy,
}

impl ForwardFormat {
    pub(super) fn default_header(self) -> &'static str {
        match self {
            ForwardFormat::Rfc9440 => "client-cert",
            ForwardFormat::Nginx => "x-ssl-client-cert",
            ForwardFormat::Envoy => "x-forwarded-client-cert",
            ForwardFormat::AwsAlb => "x-amzn-mtls-clientcert",
            ForwardFormat::Haproxy => "x-ssl-client-der",
        }
    }
}

impl FromStr for ForwardFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| format!("unknown forwarding format {s:?} (rfc9440, nginx, envoy, aws-alb, haproxy)"))
    }
}

/// An IP network, `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for IpNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an IP address or CIDR");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (
                a.parse::<IpAddr>().map_err(|_| bad())?,
                Some(p.parse::<u8>().map_err(|_| bad())?),
            ),
            None => (s.parse::<IpAddr>().map_err(|_| bad())?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { addr, prefix })
    }
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Forwarding settings of one listener, as configured.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardingConfig {
    pub format: Option<String>,
    /// Header to read, for formats whose header name varies by deployment.
    pub header: Option<String>,
    /// Proxies trusted by source address (CIDRs).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Proxies trusted by the `x5t#S256` of the client certificate they present to certbound.
    #[serde(default)]
    pub trusted_proxy_certs: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::super::Forwarding;
    use super::*;

    #[test]
    fn cidrs() {
        let net: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.255.0.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.0.0.1".parse().unwrap()));
        let one: IpNet = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("nonsense".parse::<IpNet>().is_err());
        assert!(Forwarding::from_config(&ForwardingConfig {
            format: Some("nginx".into()),
            ..Default::default()
        })
        .is_err());
        assert!("traefik".parse::<ForwardFormat>().is_err());
    }
}
