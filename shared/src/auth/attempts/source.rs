//! The address a login attempt comes from, as far as it can be trusted.
//!
//! API Gateway's `requestContext.http.sourceIp` is the TCP peer it saw: a client cannot choose
//! it. Headers can be chosen (`X-Forwarded-For` is whatever the client sent, with API Gateway's
//! peer appended), so none is read, except behind the stage's own CloudFront: there the peer
//! is a CloudFront edge shared by many viewers, and `CloudFront-Viewer-Address` is the viewer.
//! CloudFront also sends the stage's origin secret (`X-Origin-Verify`), so a request that went
//! around CloudFront to the API's own endpoint with a made-up viewer header is keyed by its
//! real peer instead.

use crate::secrets::SecretValue;
use hmac::{Hmac, Mac};
use lambda_http::Request;
use sha2::Sha256;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// Where the client's address is read from (`CLIENT_ADDRESS_FROM`, from the template's
/// `EdgeProtection` parameter).
#[derive(Debug, Clone)]
pub enum AddressTrust {
    /// `requestContext.http.sourceIp` only.
    SourceIp,
    /// `CloudFront-Viewer-Address` when the request carries the origin secret, else as above.
    CloudFront { origin_secret: SecretValue },
}

/// The variables: `CLIENT_ADDRESS_FROM` is `source-ip` (the default) or `cloudfront`; with
/// `cloudfront`, `ORIGIN_VERIFY_SECRET` names the secret CloudFront sends (an ARN in AWS).
pub const ADDRESS_FROM_VAR: &str = "CLIENT_ADDRESS_FROM";
pub const ORIGIN_SECRET_VAR: &str = "ORIGIN_VERIFY_SECRET";

#[derive(Debug, thiserror::Error)]
pub enum AddressTrustError {
    #[error("{ADDRESS_FROM_VAR} must be `source-ip` or `cloudfront`, not {0:?}")]
    Unknown(String),
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
}

impl AddressTrust {
    /// From the environment, reading the origin secret at cold start when behind CloudFront.
    pub async fn load(sdk: &aws_config::SdkConfig) -> Result<AddressTrust, AddressTrustError> {
        match std::env::var(ADDRESS_FROM_VAR).as_deref() {
            Err(_) | Ok("source-ip") => Ok(AddressTrust::SourceIp),
            Ok("cloudfront") => {
                let origin_secret = crate::secrets::SecretSource::from_env(ORIGIN_SECRET_VAR)?
                    .current(ORIGIN_SECRET_VAR, sdk)
                    .await?;
                Ok(AddressTrust::CloudFront { origin_secret })
            }
            Ok(other) => Err(AddressTrustError::Unknown(other.to_owned())),
        }
    }
}

pub const VIEWER_ADDRESS_HEADER: &str = "cloudfront-viewer-address";
pub const ORIGIN_VERIFY_HEADER: &str = "x-origin-verify";

/// The key an address counts under: an IPv4 address, or the /64 network of an IPv6 one (one
/// subscriber holds a whole /64, so single IPv6 addresses would cost an attacker nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAddress(String);

impl SourceAddress {
    pub fn of(ip: IpAddr) -> Self {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(v4) => SourceAddress(v4.to_string()),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                let network = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                SourceAddress(format!("{network}/64"))
            }
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        text.trim().parse::<IpAddr>().ok().map(Self::of)
    }

    /// No address at all (not through API Gateway): one shared, strictly limited bucket.
    pub fn unknown() -> Self {
        SourceAddress("unknown".to_owned())
    }
}

impl fmt::Display for SourceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The client's address for `request`.
pub fn client_address(request: &Request, trust: &AddressTrust) -> SourceAddress {
    use lambda_http::RequestExt as _;
    use lambda_http::request::RequestContext;
    let peer = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref(),
        _ => None,
    };
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let viewer = match trust {
        AddressTrust::SourceIp => None,
        AddressTrust::CloudFront { origin_secret } => header(ORIGIN_VERIFY_HEADER)
            .filter(|sent| same_secret(sent.as_bytes(), origin_secret.expose()))
            .and_then(|_| header(VIEWER_ADDRESS_HEADER))
            .and_then(viewer_ip),
    };
    viewer
        .map(SourceAddress::of)
        .or_else(|| peer.and_then(SourceAddress::parse))
        .unwrap_or_else(SourceAddress::unknown)
}

/// `CloudFront-Viewer-Address` is `<ip>:<port>`, the IPv6 form unbracketed
/// (`2001:db8::1:443`): the port is after the last colon.
fn viewer_ip(value: &str) -> Option<IpAddr> {
    let (ip, port) = value.trim().rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Compares in constant time (HMACs of both under one key, checked by `verify_slice`), so the
/// secret cannot be guessed byte by byte from response times.
fn same_secret(sent: &[u8], secret: &[u8]) -> bool {
    let tag = |bytes: &[u8]| {
        Hmac::<Sha256>::new_from_slice(b"payrail origin verify").map(|mut mac| {
            mac.update(bytes);
            mac
        })
    };
    match (tag(sent), tag(secret)) {
        (Ok(sent), Ok(secret)) => sent.verify_slice(&secret.finalize().into_bytes()).is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
    use lambda_http::request::RequestContext;

    fn request(source_ip: &str, headers: &[(&str, &str)]) -> Request {
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some(source_ip.to_owned());
        let mut builder = lambda_http::http::Request::builder();
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(lambda_http::Body::Empty)
            .unwrap_or_else(|_| unreachable!("static parts"));
        lambda_http::RequestExt::with_request_context(
            request,
            RequestContext::ApiGatewayV2(context),
        )
    }

    fn cloudfront() -> AddressTrust {
        AddressTrust::CloudFront {
            origin_secret: SecretValue::new(b"origin-secret".to_vec()),
        }
    }

    #[test]
    fn the_source_ip_is_the_address_and_forwarding_headers_are_ignored() {
        let spoofed = request(
            "198.51.100.7",
            &[
                ("x-forwarded-for", "203.0.113.1"),
                (VIEWER_ADDRESS_HEADER, "203.0.113.2:443"),
                ("x-real-ip", "203.0.113.3"),
            ],
        );
        assert_eq!(
            client_address(&spoofed, &AddressTrust::SourceIp).to_string(),
            "198.51.100.7"
        );
    }

    #[test]
    fn behind_cloudfront_the_viewer_address_counts_only_with_the_origin_secret() {
        let via_cloudfront = request(
            "130.176.0.1",
            &[
                (VIEWER_ADDRESS_HEADER, "203.0.113.2:51234"),
                (ORIGIN_VERIFY_HEADER, "origin-secret"),
            ],
        );
        assert_eq!(
            client_address(&via_cloudfront, &cloudfront()).to_string(),
            "203.0.113.2"
        );
        assert_eq!(
            client_address(&via_cloudfront, &AddressTrust::SourceIp).to_string(),
            "130.176.0.1",
            "a stage not behind CloudFront never reads the header"
        );
        let around_cloudfront = request(
            "198.51.100.7",
            &[
                (VIEWER_ADDRESS_HEADER, "203.0.113.2:51234"),
                (ORIGIN_VERIFY_HEADER, "a guess"),
            ],
        );
        assert_eq!(
            client_address(&around_cloudfront, &cloudfront()).to_string(),
            "198.51.100.7"
        );
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_network() {
        let ipv6 = request(
            "130.176.0.1",
            &[
                (
                    VIEWER_ADDRESS_HEADER,
                    "2001:db8:1:2:aaaa:bbbb:cccc:dddd:443",
                ),
                (ORIGIN_VERIFY_HEADER, "origin-secret"),
            ],
        );
        assert_eq!(
            client_address(&ipv6, &cloudfront()).to_string(),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            SourceAddress::parse("2001:db8:1:2::ffff"),
            SourceAddress::parse("2001:db8:1:2:1:2:3:4")
        );
        assert_eq!(
            SourceAddress::parse("::ffff:192.0.2.1").map(|a| a.to_string()),
            Some("192.0.2.1".to_owned())
        );
    }

    #[test]
    fn a_request_without_an_address_shares_one_bucket() {
        let bare = lambda_http::http::Request::builder()
            .body(lambda_http::Body::Empty)
            .unwrap_or_else(|_| unreachable!("static parts"));
        assert_eq!(
            client_address(&bare, &AddressTrust::SourceIp),
            SourceAddress::unknown()
        );
    }
}
